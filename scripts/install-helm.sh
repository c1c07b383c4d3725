#!/usr/bin/env bash
# Builds the pinned Helm (HELM_VERSION in versions.sh) from the Go module proxy
# into the shared tool cache; there is no prebuilt download. Idempotent: does
# nothing when the pinned binary is already there. Prints its path on stdout.
# The first build takes a few minutes of CPU (it compiles client-go and friends).
set -euo pipefail
source "$(dirname "$0")/versions.sh"

bin_dir="$TOOLS_DIR/helm-$HELM_VERSION/bin"
bin="$bin_dir/helm"
if [ ! -x "$bin" ]; then
  go=$(command -v go || echo /usr/local/go/bin/go)
  # helm's go.mod asks for a newer Go than some machines have (CI's setup-go
  # pins the project's): let go fetch that toolchain from the module proxy.
  export GOTOOLCHAIN=auto
  echo "==> building helm $HELM_VERSION with go install (first run only)" >&2
  # Stamp the binary the way helm's own Makefile does: its version, and the
  # Kubernetes version of its client-go as the default for `helm template`.
  gomod=$(GOFLAGS=-mod=mod "$go" mod download -json "helm.sh/helm/v3@$HELM_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  k8s_minor=$(awk '$1 == "k8s.io/client-go" { split($2, v, "."); print v[2] }' "$gomod")
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in chartutil lint/rules; do
    ldflags+=" -X helm.sh/helm/v3/pkg/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$pkg.k8sVersionMinor=$k8s_minor"
  done
  mkdir -p "$bin_dir"
  GOBIN="$bin_dir" GOFLAGS=-mod=mod CGO_ENABLED=0 \
    "$go" install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
fi
echo "$bin"

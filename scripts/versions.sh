# Pinned versions of the tools the stack runs. Sourced by scripts and the Makefile.
# Changing one here is the whole upgrade: binaries are cached per version.
TOOLS_DIR="${SHOPGRAPH_TOOLS_DIR:-$HOME/.local/share/shopgraph}"
ROUTER_VERSION=2.17.0
FERRETDB_VERSION=v1.24.2
FEDERATION_VERSION=2.11.3
# The Go module version of Jaeger v2 (cmd/jaeger), the trace backend TRACING=1 starts.
JAEGER_VERSION=v1.76.0
ROUTER_BIN="$TOOLS_DIR/apollo-router-$ROUTER_VERSION/bin/router"
FERRETDB_BIN="$TOOLS_DIR/ferretdb-$FERRETDB_VERSION/bin/ferretdb"
JAEGER_BIN="$TOOLS_DIR/jaeger-$JAEGER_VERSION/bin/jaeger"
HELM_VERSION=v3.21.4

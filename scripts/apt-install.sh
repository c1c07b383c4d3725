#!/usr/bin/env bash
# apt-install.sh <command> <debian-package>...: installs the packages with apt-get
# unless <command> is already on PATH. Needs root (or sudo).
set -euo pipefail
command_name=$1
shift
if command -v "$command_name" > /dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo=sudo
fi
echo "==> installing $* with apt-get (for $command_name)"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "$@"

#!/bin/sh
# scripts/deps.sh — make sure the Debian packages kiln builds with are
# installed. As root it installs what is missing with apt-get; otherwise it
# prints the exact command to run and fails.
# Usage: scripts/deps.sh [extra-package ...]
set -eu
need="cmake make gcc pkg-config llvm-19-dev libffi-dev libcmocka-dev $*"
missing=""
for p in $need; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "kiln: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends $missing >&2
else
  echo "kiln: missing packages:$missing" >&2
  echo "run:  sudo apt-get install -y$missing" >&2
  exit 1
fi

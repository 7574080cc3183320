#!/usr/bin/env bash
# Installs the Debian packages mos needs to build, run and test, and nothing else.
# Idempotent: packages already installed are skipped and nothing is printed for them.
# Usage: scripts/setup.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail

build_pkgs=(gcc meson ninja-build pkg-config libopenblas-dev libzmq3-dev libmsgpack-dev
            libncurses-dev libyaml-dev libjansson-dev libcmocka-dev sentencepiece gettext)
test_pkgs=(tmux python3 python3-numpy python3-torch python3-zmq python3-msgpack
           openssh-server openssh-client procps)

want=("${build_pkgs[@]}")
[ "${1:-}" = "--test" ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "setup: cannot install ${missing[*]}: not root and no password-less sudo;" \
         "install them with apt-get as an administrator" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get update -qq >/dev/null; then
    echo "setup: apt-get update failed; check the network and /etc/apt/sources.list" >&2
    exit 1
fi
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "setup: apt-get install ${missing[*]} failed" >&2
    exit 1
fi
echo "setup: installed ${#missing[@]} package(s)"

#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine (run as root):
#  1. apt packages hadaemon needs (apt-get update only when something is missing)
#  2. /lib/modules/$(uname -r)/{build,source} -> installed linux headers (bcc needs them)
#  3. .venv with --system-site-packages (python3-bpfcc and python3-nftables are Debian-only)
#     and hadaemon installed editable with its dev dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(python3-bpfcc python3-nftables python3-venv nftables bpftool linux-headers-amd64
          keepalived tcpdump iproute2 vagrant systemd make)

missing=()
for p in "${APT_PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: missing Debian packages: ${missing[*]} (run as root to install)" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # vagrant is only used for `vagrant validate`; do not fail the whole set-up without it.
    apt-get install -y -qq "${missing[@]}" >/dev/null || {
        core=()
        for p in "${missing[@]}"; do [ "$p" = vagrant ] || core+=("$p"); done
        apt-get install -y -qq "${core[@]}" >/dev/null
        apt-get install -y -qq vagrant >/dev/null || echo "setup: vagrant not installable; Vagrantfile tests will fail" >&2
    }
fi

# keepalived is a test peer only: never let the package's own service run on this host.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now keepalived >/dev/null 2>&1 || true
fi

# bcc compiles against /lib/modules/$(uname -r)/build; this kernel ships none.
kdir="/lib/modules/$(uname -r)"
if [ "$(id -u)" = 0 ]; then
    hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
    common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$hdr" ]; then
        mkdir -p "$kdir"
        [ -e "$kdir/build" ] || ln -sfn "$hdr" "$kdir/build"
        if [ ! -e "$kdir/source" ] && [ -n "$common" ]; then ln -sfn "$common" "$kdir/source"; fi
    fi
fi

# Virtualenv on Debian's interpreter so that bcc and nftables bindings are importable.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.prefix != sys.base_prefix else 1)'; then
    rm -rf .venv
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=.venv/.hadaemon-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e '.[dev]'
    touch "$stamp"
fi
echo "setup: ok ($(.venv/bin/python --version), venv .venv)"

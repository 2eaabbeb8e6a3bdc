#!/usr/bin/env bash
# Prepares a machine for running or testing the PMS: a venv with the pinned
# packages and, for the tests, Debian's mosquitto. Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-gui,test}"
venv=.venv
python=${PYTHON:-python3}

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        echo "bootstrap: please install the Debian packages: $*" >&2
        exit 1
    fi
}

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" 2>/dev/null || { apt_install python3-venv; "$python" -m venv "$venv"; }
fi
stamp="$venv/.installed-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -e ".[$extras]"
    touch "$stamp"
fi
if [[ ",$extras," == *,test,* ]]; then
    # The tests start a broker (Debian puts it in /usr/sbin), drive it with the command-line clients, and make
    # TLS certificates with openssl.
    missing=()
    command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
    command -v mosquitto_sub >/dev/null || missing+=(mosquitto-clients)
    command -v openssl >/dev/null || missing+=(openssl)
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
fi
# The console's Korean text needs a CJK font: Debian's Noto CJK, when no Korean font is installed.
if [[ ",$extras," == *,gui,* ]] && ! { command -v fc-list >/dev/null && fc-list :lang=ko family | grep -q .; }; then
    apt_install fontconfig fonts-noto-cjk
fi
if [[ ",$extras," == *,build,* ]] && ! command -v objdump >/dev/null; then
    apt_install binutils  # PyInstaller reads the libraries' dependencies with objdump
fi

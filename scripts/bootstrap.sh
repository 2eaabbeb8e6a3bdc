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
    command -v Xvfb >/dev/null || missing+=(xvfb)  # tests/test_xcb.py: the console on the real xcb platform
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
fi
# Qt's xcb platform plugin (any display: `make run`, tests/test_xcb.py) needs X libraries that a fresh Debian desktop
# lacks ("Could not load the Qt platform plugin xcb"): ldd names the missing ones, each is mapped to its package.
if [[ ",$extras," == *,gui,* ]]; then
    declare -A xcb_package=(
        [libxcb.so.1]=libxcb1 [libxcb-icccm.so.4]=libxcb-icccm4 [libxcb-image.so.0]=libxcb-image0
        [libxcb-keysyms.so.1]=libxcb-keysyms1 [libxcb-randr.so.0]=libxcb-randr0 [libxcb-render.so.0]=libxcb-render0
        [libxcb-render-util.so.0]=libxcb-render-util0 [libxcb-shape.so.0]=libxcb-shape0 [libxcb-shm.so.0]=libxcb-shm0
        [libxcb-sync.so.1]=libxcb-sync1 [libxcb-util.so.1]=libxcb-util1 [libxcb-xfixes.so.0]=libxcb-xfixes0
        [libxcb-xinerama.so.0]=libxcb-xinerama0 [libxcb-xkb.so.1]=libxcb-xkb1 [libxcb-glx.so.0]=libxcb-glx0
        [libxkbcommon.so.0]=libxkbcommon0 [libxkbcommon-x11.so.0]=libxkbcommon-x11-0 [libX11.so.6]=libx11-6
        [libX11-xcb.so.1]=libx11-xcb1 [libXext.so.6]=libxext6 [libGL.so.1]=libgl1 [libEGL.so.1]=libegl1
        [libfontconfig.so.1]=libfontconfig1 [libfreetype.so.6]=libfreetype6 [libdbus-1.so.3]=libdbus-1-3
        [libglib-2.0.so.0]=libglib2.0-0 [libgthread-2.0.so.0]=libglib2.0-0
    )
    qt=$("$venv/bin/python" -c 'import pathlib, PyQt5; print(pathlib.Path(PyQt5.__file__).parent / "Qt5")')
    missing=()
    for lib in $(ldd "$qt/plugins/platforms/libqxcb.so" "$qt"/plugins/xcbglintegrations/*.so 2>/dev/null \
                 | awk '/=> not found/ {print $1}' | sort -u); do
        if [ -n "${xcb_package[$lib]:-}" ]; then
            missing+=("${xcb_package[$lib]}")
        else
            echo "bootstrap: Qt's xcb plugin needs $lib, which no known Debian package provides here" >&2
        fi
    done
    if [ ${#missing[@]} -gt 0 ]; then apt_install $(printf '%s\n' "${missing[@]}" | sort -u); fi
fi
# The console's Korean text needs a CJK font: Debian's Noto CJK, when no Korean font is installed.
if [[ ",$extras," == *,gui,* ]] && ! { command -v fc-list >/dev/null && fc-list :lang=ko family | grep -q .; }; then
    apt_install fontconfig fonts-noto-cjk
fi
if [[ ",$extras," == *,build,* ]] && ! command -v objdump >/dev/null; then
    apt_install binutils  # PyInstaller reads the libraries' dependencies with objdump
fi

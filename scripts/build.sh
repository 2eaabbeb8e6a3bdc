#!/usr/bin/env bash
# Builds PMS_GUI_Application on Linux with the same spec as the Windows .bat files.
#   scripts/build.sh [--onedir] [--dcdc-disabled]
# Output: dist/PMS_GUI_Application (one file) or dist/PMS_GUI_Application/ (one folder),
# with the variant's editable config folder beside the executable.
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
    case "$arg" in
        --onedir) export PMS_ONEDIR=1 ;;
        --dcdc-disabled) export PMS_DCDC_DISABLED=1 ;;
        *) echo "build: unknown option $arg (use --onedir, --dcdc-disabled)" >&2; exit 2 ;;
    esac
done

./scripts/bootstrap.sh gui,build
rm -rf dist/PMS_GUI_Application dist/config
start=$(date +%s)
.venv/bin/python -m PyInstaller --noconfirm --log-level WARN pms.spec
echo "build: done in $(( $(date +%s) - start )) s"
if [ "${PMS_ONEDIR:-0}" = 1 ]; then
    # pms.spec leaves unused Qt libraries out: nothing kept may need one of them.
    missing=$(find dist/PMS_GUI_Application -name '*.so*' -type f -exec ldd {} + 2>/dev/null | grep 'libQt5.* not found' | sort -u || true)
    if [ -n "$missing" ]; then
        echo "build: a bundled library needs a Qt library the spec left out:" >&2
        echo "$missing" >&2
        exit 1
    fi
    mib=$(( $(du -sb dist/PMS_GUI_Application | cut -f1) / 1048576 ))
    echo "build: ${mib} MiB in dist/PMS_GUI_Application/"
    if [ "$mib" -ge "${PMS_MAX_MIB:-150}" ]; then
        echo "build: the one-folder build is ${mib} MiB, over the ${PMS_MAX_MIB:-150} MiB target: see pms.spec's excludes" >&2
        exit 1
    fi
else
    echo "build: $(( $(du -sb dist/PMS_GUI_Application | cut -f1) / 1048576 )) MiB dist/PMS_GUI_Application"
fi

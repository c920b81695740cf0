#!/usr/bin/env bash
# Installs what the real-browser test needs from Debian: the `chromium` browser that Playwright
# drives (Playwright's own browser download is not used), and fonts with Hangul glyphs so the
# Korean terms in the notebooks show in screenshots. Idempotent: returns at once when everything
# is there. Needs root (or sudo) the first time; CI runs it as root.
set -euo pipefail

# The test workers run in parallel and two of them may ask at once: one installs, the other waits
# here and then finds everything installed.
exec 9>"${TMPDIR:-/tmp}/course-install-browser.lock"
flock 9

packages=(chromium fonts-nanum fonts-dejavu-core)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "install-browser: missing Debian packages ${missing[*]}; install them as root:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "install-browser: installing ${missing[*]} (once)" >&2
export DEBIAN_FRONTEND=noninteractive
# (another apt, e.g. the PostgreSQL install of the grading tests, may hold the lock for a while)
"${as_root[@]}" apt-get update -qq -o DPkg::Lock::Timeout=600
"${as_root[@]}" apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
command -v chromium >/dev/null

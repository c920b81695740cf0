#!/usr/bin/env bash
# Installs what the JupyterHub test (tests/test_hub.py) needs besides the Python packages of
# requirements.txt: configurable-http-proxy (the hub's proxy, from npm) into tests/hub/node_modules
# (git-ignored), with Debian's nodejs and npm when they are missing, and git (nbgitpuller clones
# with it). Idempotent: returns at once when everything is there. Needs root the first time only
# if Debian packages are missing; CI runs it as root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
CHP_VERSION=5.3.0

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v git >/dev/null || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-hub: missing Debian packages ${missing[*]}; as root:" >&2
        echo "    apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "install-hub: installing ${missing[*]} (once)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

chp="$here/node_modules/.bin/configurable-http-proxy"
if [ -x "$chp" ] && [ "$(node -p "require('$here/node_modules/configurable-http-proxy/package.json').version")" = "$CHP_VERSION" ]; then
    exit 0
fi
echo "install-hub: installing configurable-http-proxy@$CHP_VERSION from npm (once)" >&2
npm install --prefix "$here" --no-save --no-audit --no-fund --loglevel=error \
    "configurable-http-proxy@$CHP_VERSION" >&2
test -x "$chp"

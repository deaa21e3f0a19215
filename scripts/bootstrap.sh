#!/usr/bin/env bash
# Makes this checkout runnable on a fresh Debian 12 machine: Debian packages (as root, with
# apt; otherwise print the exact apt-get line and stop), then .venv with the project and its
# dev extras. A second run checks and installs nothing new, so it is fast.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  mosquitto mosquitto-clients
  pcscd vsmartcard-vpcd pcsc-tools libpcsclite-dev swig
  xvfb xauth libmtdev1 libgl1-mesa-dri
  chromium
  gcc python3-dev python3-venv
  systemd openssl
  nodejs npm
  socat
  postgresql
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  # python3-dev/venv are satisfied by a non-Debian CPython that already has headers and venv.
  case "$p" in
    python3-dev) python3 -c 'import sysconfig,os,sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"],"Python.h")) else 1)' && continue ;;
    python3-venv) python3 -c 'import venv, ensurepip' 2>/dev/null && continue ;;
    # nodejs/npm are satisfied by a Node already on PATH (e.g. NodeSource's, which bundles npm
    # and conflicts with Debian's npm package).
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  line="apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: missing Debian packages. Run as root, then run this again:" >&2
    echo "  apt-get update && $line" >&2
    exit 1
  fi
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  $line >/dev/null
fi

stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: creating .venv and installing the project (pip)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# --- AsyncAPI check (tools/asyncapi) -------------------------------------------------------------
# The official AsyncAPI parser, which tests/test_wire_contract.py runs on the published document.
# Installed with `npm ci` from the committed lock file, again only when that lock file changes.
if command -v node >/dev/null && command -v npm >/dev/null; then
  node_lock=tools/asyncapi/package-lock.json
  node_stamp=tools/asyncapi/node_modules/.installed-$(sha256sum "$node_lock" | cut -c1-16)
  if [ ! -f "$node_stamp" ]; then
    echo "bootstrap: installing the AsyncAPI parser (npm ci in tools/asyncapi)"
    (cd tools/asyncapi && npm ci --loglevel=error >/dev/null)
    touch "$node_stamp"  # npm ci empties node_modules first, so older stamps go with it
  fi
fi
# --- end of the AsyncAPI check -------------------------------------------------------------------

# --- The test OpenID provider (tools/oidc) -------------------------------------------------------
# panva/node-oidc-provider, which tests/test_signin_oidc.py starts on loopback as the trust's
# Microsoft 365 or Google. Installed with `npm ci` from its committed lock file, like the above.
if command -v node >/dev/null && command -v npm >/dev/null; then
  oidc_lock=tools/oidc/package-lock.json
  oidc_stamp=tools/oidc/node_modules/.installed-$(sha256sum "$oidc_lock" | cut -c1-16)
  if [ ! -f "$oidc_stamp" ]; then
    echo "bootstrap: installing the test OpenID provider (npm ci in tools/oidc)"
    (cd tools/oidc && npm ci --loglevel=error >/dev/null)
    touch "$oidc_stamp"
  fi
fi
# --- end of the test OpenID provider -------------------------------------------------------------

# --- Accessibility check (tools/axe) -------------------------------------------------------------
# axe-core, which tests/test_web_accessibility.py injects into every console page in Chromium.
# Installed the same way: `npm ci` from the committed lock file, again only when it changes.
if command -v node >/dev/null && command -v npm >/dev/null; then
  axe_lock=tools/axe/package-lock.json
  axe_stamp=tools/axe/node_modules/.installed-$(sha256sum "$axe_lock" | cut -c1-16)
  if [ ! -f "$axe_stamp" ]; then
    echo "bootstrap: installing axe-core (npm ci in tools/axe)"
    (cd tools/axe && npm ci --loglevel=error >/dev/null)
    touch "$axe_stamp"
  fi
fi
# --- end of the accessibility check --------------------------------------------------------------

#!/usr/bin/env bash
# Set up Bindery on a fresh machine: a virtualenv with Bindery, a Docker engine,
# the base images and the default environment image.
#   bash scripts/setup.sh          # to run Bindery
#   bash scripts/setup.sh --dev    # also everything the test suite needs
# Safe to re-run: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1
say() { printf '\033[1;36m==> %s\033[0m\n' "$*" >&2; }

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Bindery needs Python >= 3.11 ($PY is $("$PY" --version 2>&1))" >&2; exit 1
fi

if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
  pkgs=(git)
  if [[ $DEV -eq 1 ]]; then
    # Real programs the tests drive: a browser, a database server, git daemon, a load generator,
    # npm, and nginx (the production proxy backend, run by the tests as a child process).
    pkgs+=(chromium postgresql wrk nginx)
    command -v npm >/dev/null || pkgs+=(npm)
  fi
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [[ ${#missing[@]} -gt 0 ]]; then
    say "Installing OS packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    # Debian starts a system-wide nginx on port 80; Bindery runs its own, so stop that one.
    if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null; then
      systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
  fi
fi

if [[ ! -x .venv/bin/python ]]; then
  say "Creating .venv"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip uv
if [[ $DEV -eq 1 ]]; then
  say "Installing Bindery with test extras"
  .venv/bin/uv pip install -q --python .venv/bin/python -e '.[test,postgres]'
  .venv/bin/uv pip install -q --python .venv/bin/python -e tests/contracts/example_plugin
  say "Installing configurable-http-proxy (npm), the real proxy the tests compare against"
  .venv/bin/python -c 'from bindery.hub.proxy.processes import install_chp; install_chp()'
  say "Installing the JavaScript clients the tests use as oracles (tests/js: @jupyterhub/binderhub-client)"
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
else
  say "Installing Bindery"
  .venv/bin/uv pip install -q --python .venv/bin/python -e '.[postgres]'
fi

say "Checking the container engine and base images (bindery doctor --fix)"
.venv/bin/bindery doctor --fix

#!/usr/bin/env bash
# Install the portal into .venv and start it on SQLite with demo data at http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
exec .venv/bin/hangang serve --demo "$@"

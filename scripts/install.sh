#!/usr/bin/env bash
# Create ./.venv (Python 3.11) and install the project with its OCR engines and dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
log=.venv/install.log
if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[dev]"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "安装失败，详见 $log" >&2
  exit 1
fi

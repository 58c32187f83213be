#!/usr/bin/env bash
# Install (if needed) and run the whole test suite, SQLite and PostgreSQL cases included, then
# fuzz the HTTP API against its OpenAPI document (scripts/api_fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
if [ "$#" -eq 0 ]; then
  bash scripts/api_fuzz.sh
fi

#!/usr/bin/env bash
# Install (if needed) and run the whole test suite, SQLite and PostgreSQL cases included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q "$@"

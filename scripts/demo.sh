#!/usr/bin/env bash
# Install, ingest the bundled sample batch into ./archive-data, print the summary, create one demo user
# per role (passwords shown once) and serve the web UI and API on http://127.0.0.1:8000 (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/archive demo "$@"

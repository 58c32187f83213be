#!/usr/bin/env bash
# Install, then ingest the bundled sample batch into ./archive-data and print the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/archive demo "$@"

#!/usr/bin/env bash
# Property-based test of the HTTP API against its own OpenAPI document (schemathesis):
# a small seeded archive, a real server, one run per role.  Fails on any 5xx or any response
# that does not match the documented schema, status codes or content types.
#     bash scripts/api_fuzz.sh [max-examples-per-operation]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
EXAMPLES=${1:-${API_FUZZ_EXAMPLES:-20}}
HOME_DIR=$(mktemp -d)
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export ARCHIVE_HOME="$HOME_DIR" ARCHIVE_COOKIE_SECURE=false ARCHIVE_OCR_WORKERS=0 \
  ARCHIVE_LOGIN_RATE_PER_MINUTE=100000 ARCHIVE_SEARCH_RATE_PER_MINUTE=100000 ARCHIVE_MAX_FILE_BYTES=2000000
unset ARCHIVE_DATABASE_URL
$PY -c 'from archive.runtime import open_runtime; from archive.settings import Settings
from tests.api_seed import add_users, seed
rt = open_runtime(Settings()); add_users(rt); seed(rt); rt.close()'
.venv/bin/archive serve --port "$PORT" >"$HOME_DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$HOME_DIR"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1 && break
  sleep 0.2
done
status=0
for role in caseworker archivist reviewer auditor admin; do
  TOKEN=$(curl -fsS -d "username=$role&password=Archive-Test-2026!" "http://127.0.0.1:$PORT/api/v1/auth/token" |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  echo "== schemathesis as $role"
  .venv/bin/schemathesis --no-color run "http://127.0.0.1:$PORT/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path /api/v1/auth/logout --exclude-path /api/v1/auth/password \
    -H "Authorization: Bearer $TOKEN" --max-examples "$EXAMPLES" --seed 20261123 --phases examples,coverage,fuzzing \
    --workers 1 --warnings off || status=1
done
if grep -qs '"level": "error"' "$HOME_DIR/logs/archive.jsonl"; then
  echo "server logged errors:"; grep '"level": "error"' "$HOME_DIR/logs/archive.jsonl" | head -5; status=1
fi
exit $status

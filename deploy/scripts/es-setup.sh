#!/bin/bash
# One-shot for docker-compose.yml (service es-setup, the Elasticsearch image), run once the node is
# healthy: the application's own user `archive` (password ES_ARCHIVE_PASSWORD, the one in
# ARCHIVE_ES_URL) with a role limited to what search/elastic.py does:
#   cluster: monitor (GET /), manage_index_templates (the index template);
#   indices ARCHIVE_ES_INDEX* (the alias and its concrete indices <alias>-<time>-<random>): all
#   (create, bulk writes, search, refresh, settings, alias swap, deletion of the old index).
# The `elastic` superuser stays with the operator. Idempotent: PUT sets the role and password again.
set -euo pipefail

: "${ELASTIC_PASSWORD:?}" "${ES_ARCHIVE_PASSWORD:?}" "${ARCHIVE_ES_INDEX:?}"

ES=https://elasticsearch:9200
CA=/es-ca/ca.crt

as_elastic() {
  curl --silent --show-error --fail --cacert "$CA" -u "elastic:${ELASTIC_PASSWORD}" \
    -H 'Content-Type: application/json' "$@"
}

as_elastic -X PUT "$ES/_security/role/archive_app" -d @- >/dev/null <<EOF
{
  "cluster": ["monitor", "manage_index_templates"],
  "indices": [{"names": ["${ARCHIVE_ES_INDEX}*"], "privileges": ["all"]}]
}
EOF

as_elastic -X PUT "$ES/_security/user/archive" -d @- >/dev/null <<EOF
{"password": "${ES_ARCHIVE_PASSWORD}", "roles": ["archive_app"], "full_name": "shebao-archive application"}
EOF

# The account works, with the URL's credentials and over the CA the application is given.
curl --silent --show-error --fail --cacert "$CA" -u "archive:${ES_ARCHIVE_PASSWORD}" "$ES/" >/dev/null
echo "es-setup: user archive (role archive_app on ${ARCHIVE_ES_INDEX}*) ready"

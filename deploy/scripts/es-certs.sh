#!/bin/bash
# One-shot for docker-compose.yml (service es-certs, the Elasticsearch image, as root): a private CA
# and the node's certificate for TLS on HTTP and transport, made once with elasticsearch-certutil
# and kept in the es-certs volume. The CA certificate alone (never its key) is copied to the es-ca
# volume, which the application mounts read-only as ARCHIVE_ES_CA_CERTS. Idempotent.
set -euo pipefail

cd /usr/share/elasticsearch
CERTS=config/certs

if [ ! -f "$CERTS/ca/ca.crt" ]; then
  echo "es-certs: creating the CA"
  bin/elasticsearch-certutil ca --silent --pem --out "$CERTS/ca.zip"
  unzip -o -q "$CERTS/ca.zip" -d "$CERTS"
  rm -f "$CERTS/ca.zip"
fi

if [ ! -f "$CERTS/elasticsearch/elasticsearch.crt" ]; then
  echo "es-certs: creating the node certificate"
  # The name the application connects to (https://elasticsearch:9200) and the healthcheck's.
  cat >"$CERTS/instances.yml" <<'EOF'
instances:
  - name: elasticsearch
    dns: [elasticsearch, localhost]
    ip: [127.0.0.1]
EOF
  bin/elasticsearch-certutil cert --silent --pem --in "$CERTS/instances.yml" --out "$CERTS/certs.zip" \
    --ca-cert "$CERTS/ca/ca.crt" --ca-key "$CERTS/ca/ca.key"
  unzip -o -q "$CERTS/certs.zip" -d "$CERTS"
  rm -f "$CERTS/certs.zip"
fi

# Elasticsearch runs as uid 1000, gid 0: group-readable, nothing for others.
chown -R root:root "$CERTS"
find "$CERTS" -type d -exec chmod 750 {} +
find "$CERTS" -type f -exec chmod 640 {} +

install -m 0644 "$CERTS/ca/ca.crt" /es-ca/ca.crt
echo "es-certs: certificates ready"

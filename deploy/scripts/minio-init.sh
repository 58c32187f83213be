#!/bin/sh
# One-shot MinIO set-up for docker-compose.yml (service minio-init, image minio/mc). Idempotent:
# it runs on every `docker compose up` and changes nothing the second time.
#
#  1. The archive bucket, created with object lock (S3 allows enabling it only when a bucket is
#     created; it turns versioning on). The archive refuses a bucket without it
#     (bucket_without_object_lock), so a bucket made by hand without --with-lock must be replaced.
#  2. No default retention on the bucket: the archive puts retention (ARCHIVE_S3_LOCK_MODE) or a
#     legal hold on each object when its dossier is archived; a default rule would also lock the
#     scans of dossiers still in review, which may be rejected.
#  3. The application's own user (ARCHIVE_S3_ACCESS_KEY / ARCHIVE_S3_SECRET_KEY) with a policy on
#     this bucket only: read, write, retention and legal hold, version listing, deletion of versions
#     (approved destruction; the server still refuses while a lock holds). Not granted:
#     s3:BypassGovernanceRetention, bucket deletion, lock or policy changes.
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${ARCHIVE_S3_BUCKET:?}"
: "${ARCHIVE_S3_ACCESS_KEY:?}" "${ARCHIVE_S3_SECRET_KEY:?}"

ALIAS=archive-minio
POLICY=archive-app
BUCKET="$ALIAS/$ARCHIVE_S3_BUCKET"

mc alias set "$ALIAS" http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

mc mb --ignore-existing --with-lock "$BUCKET"
mc retention clear --default "$BUCKET"

policy_file=$(mktemp)
trap 'rm -f "$policy_file"' EXIT
cat >"$policy_file" <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:ListBucketMultipartUploads",
        "s3:GetBucketLocation",
        "s3:GetBucketObjectLockConfiguration",
        "s3:GetBucketVersioning",
        "s3:PutBucketVersioning"
      ],
      "Resource": ["arn:aws:s3:::${ARCHIVE_S3_BUCKET}"]
    },
    {
      "Effect": "Allow",
      "Action": [
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:GetObjectRetention",
        "s3:PutObjectRetention",
        "s3:GetObjectLegalHold",
        "s3:PutObjectLegalHold",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts"
      ],
      "Resource": ["arn:aws:s3:::${ARCHIVE_S3_BUCKET}/*"]
    }
  ]
}
EOF
mc admin policy create "$ALIAS" "$POLICY" "$policy_file"

# `user add` on an existing user sets its secret again (so a changed ARCHIVE_S3_SECRET_KEY applies).
mc admin user add "$ALIAS" "$ARCHIVE_S3_ACCESS_KEY" "$ARCHIVE_S3_SECRET_KEY"
# Attaching a policy that is already attached is reported as an error by mc; check the outcome instead
# (with the shell alone: the mc image has no grep).
mc admin policy attach "$ALIAS" "$POLICY" --user "$ARCHIVE_S3_ACCESS_KEY" >/dev/null 2>&1 || true
info=$(mc admin user info "$ALIAS" "$ARCHIVE_S3_ACCESS_KEY")
case "$info" in
  *"$POLICY"*) ;;
  *)
    echo "minio-init: policy $POLICY is not attached to $ARCHIVE_S3_ACCESS_KEY" >&2
    exit 1
    ;;
esac

echo "minio-init: bucket $ARCHIVE_S3_BUCKET (object lock, no default retention) and user $ARCHIVE_S3_ACCESS_KEY ready"

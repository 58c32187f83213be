"""Keeping the search index in step with the records: which backend, which pages, the outbox of
dossiers waiting to be indexed, draining it, re-indexing and drift checks."""

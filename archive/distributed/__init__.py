"""Ingest on Celery workers (``ARCHIVE_BROKER_URL``): one task per page's OCR, then one task per file
that classifies, validates and stores its dossiers, chained to one that indexes them."""

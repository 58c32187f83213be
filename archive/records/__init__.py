"""Relational records: batches, dossiers, documents, pages (SQLAlchemy 2.x)."""

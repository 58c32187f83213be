"""Ingest as a sequence of named steps over a per-file work record."""

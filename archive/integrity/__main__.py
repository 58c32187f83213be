"""``python -m archive.integrity check [--sample F] [--due DAYS] [--json]``: the same command as
``archive integrity check``, for a scheduler (cron) that should not depend on the entry point."""

from archive.cli_integrity import integrity

if __name__ == "__main__":
    integrity(prog_name="python -m archive.integrity")

"""Retention (保管期限) of archived dossiers: when it ends, and the object-store holds that enforce it."""

from archive.retention.period import filed_on, required_hold, retention_end

__all__ = ["filed_on", "required_hold", "retention_end"]

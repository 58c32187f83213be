"""Roles and what each may do.  Deny by default: a permission not granted here is refused."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ARCHIVIST = "archivist"
    REVIEWER = "reviewer"
    CASEWORKER = "caseworker"
    AUDITOR = "auditor"
    ADMIN = "admin"


ROLE_ZH = {
    Role.ARCHIVIST: "档案管理员",
    Role.REVIEWER: "审核员",
    Role.CASEWORKER: "经办人员",
    Role.AUDITOR: "审计员",
    Role.ADMIN: "系统管理员",
}


class Perm(StrEnum):
    BATCH_UPLOAD = "batch.upload"
    BATCH_READ = "batch.read"
    DOSSIER_READ = "dossier.read"  # list, open, pages, OCR text (within scope)
    DOSSIER_DOWNLOAD = "dossier.download"  # the searchable PDF, one dossier at a time, with a reason
    RECORD_LOOKUP = "record.lookup"
    REVIEW_CORRECT = "review.correct"
    REVIEW_DECIDE = "review.decide"
    USER_ADMIN = "user.admin"
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"
    DISPOSITION_READ = "disposition.read"  # the appraisal list and destruction registers (within scope)
    DISPOSITION_PROPOSE = "disposition.propose"  # propose destroying or keeping dossiers due for appraisal
    DISPOSITION_APPROVE = "disposition.approve"  # approve or decline another person's proposal


GRANTS: dict[Role, frozenset[Perm]] = {
    Role.ARCHIVIST: frozenset(
        {
            Perm.BATCH_UPLOAD,
            Perm.BATCH_READ,
            Perm.DOSSIER_READ,
            Perm.DOSSIER_DOWNLOAD,
            Perm.REVIEW_CORRECT,
            Perm.DISPOSITION_READ,
            Perm.DISPOSITION_PROPOSE,
        }
    ),
    Role.REVIEWER: frozenset(
        {
            Perm.BATCH_READ,
            Perm.DOSSIER_READ,
            Perm.DOSSIER_DOWNLOAD,
            Perm.REVIEW_CORRECT,
            Perm.REVIEW_DECIDE,
            Perm.DISPOSITION_READ,
            Perm.DISPOSITION_PROPOSE,
            Perm.DISPOSITION_APPROVE,
        }
    ),
    Role.CASEWORKER: frozenset({Perm.DOSSIER_READ, Perm.DOSSIER_DOWNLOAD, Perm.RECORD_LOOKUP}),
    Role.AUDITOR: frozenset({Perm.AUDIT_READ, Perm.AUDIT_EXPORT, Perm.DISPOSITION_READ}),
    Role.ADMIN: frozenset({Perm.USER_ADMIN}),
}

# Dossier statuses each content role may see: archivists and reviewers work on what is not yet
# archived, caseworkers read the archive.  A destroyed dossier (archive.disposition) is seen by no
# one: what remains of it is its destruction register (Perm.DISPOSITION_READ).
VISIBLE_STATUSES: dict[Role, frozenset[str]] = {
    Role.ARCHIVIST: frozenset({"needs_review", "rejected"}),
    Role.REVIEWER: frozenset({"needs_review", "rejected"}),
    Role.CASEWORKER: frozenset({"archived"}),
}


def allowed(role: str, perm: Perm) -> bool:
    try:
        return perm in GRANTS[Role(role)]
    except ValueError:
        return False


def sees_clean_scans(role: str) -> bool:
    """Whoever corrects what OCR read works on the scan as it is; everyone else is served page
    images with their name, office and the time drawn in (upright), on screen as in downloads."""
    return allowed(role, Perm.REVIEW_CORRECT)

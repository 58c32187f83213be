"""What every ``archive`` sub-command shares: the console, access-log entries, error messages."""

from __future__ import annotations

import click
from rich.console import Console

from archive.audit.log import AccessEvent, AccessLog
from archive.errors import ServiceError
from archive.pipeline.runner import current_user
from archive.runtime import Runtime

console = Console(stderr=True)


def audit_event(rt: Runtime, action: str, targets: tuple[str, ...] = (), outcome: str = "allowed", **detail) -> None:
    """Every content action of the CLI goes to the access log, as the OS user who ran it."""
    AccessLog(rt, rt.settings.audit_hash, rt.settings.audit_checkpoint_every).append(
        AccessEvent(
            actor=current_user(),
            role="admin-cli",
            action=action,
            outcome=outcome,
            client="cli",
            targets=targets,
            detail=detail,
        )
    )


def fail(exc: ServiceError) -> click.ClickException:
    return click.ClickException(f"[{exc.code}] {exc.message}")

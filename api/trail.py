"""Writing API actions to the access log: allowed and denied alike, before the answer leaves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from archive.audit.log import AccessEvent
from archive.errors import ServiceError
from archive.identity.principal import Principal


class Trail:
    def __init__(self, append: Callable[[AccessEvent], object]) -> None:
        self._append = append

    def record(
        self,
        principal: Principal,
        action: str,
        targets: tuple[str, ...] | list[str] = (),
        outcome: str = "allowed",
        reason: str = "",
        detail: dict | None = None,
    ) -> None:
        """Durably appended when this returns; an error here fails the request (no unlogged read)."""
        self._append(
            AccessEvent(
                actor=principal.name,
                role=principal.role,
                action=action,
                outcome=outcome,
                office=principal.office,
                client=principal.client,
                targets=tuple(targets),
                reason=reason,
                detail=detail or {},
            )
        )

    def anonymous(self, name: str, client: str, action: str, outcome: str, detail: dict) -> None:
        """For sign-in attempts, before anyone is known."""
        self._append(AccessEvent(actor=name, role="", action=action, outcome=outcome, client=client, detail=detail))

    @contextmanager
    def attempt(
        self,
        principal: Principal,
        action: str,
        targets: tuple[str, ...] | list[str] = (),
        reason: str = "",
        detail: dict | None = None,
    ) -> Iterator[dict]:
        """Log the action as allowed when the block finishes, as denied (with the error code) when
        a service refuses it.  The block may add to the yielded detail."""
        extra: dict = dict(detail or {})
        try:
            yield extra
        except ServiceError as exc:
            self.record(principal, action, targets, "denied", reason, {**extra, "code": exc.code})
            raise
        self.record(principal, action, targets, "allowed", reason, extra)

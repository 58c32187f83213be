"""Writing API actions to the access log: allowed and denied alike, before the answer leaves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from archive.audit.log import AccessEvent, prepare
from archive.errors import Invalid, ServiceError
from archive.identity.principal import Principal


class Trail:
    def __init__(self, append: Callable[[AccessEvent], object]) -> None:
        self._append = append

    @staticmethod
    def _event(
        principal: Principal, action: str, targets, outcome: str, reason: str, detail: dict | None
    ) -> AccessEvent:
        return AccessEvent(
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
        self._append(self._event(principal, action, targets, outcome, reason, detail))

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
        try:  # an entry the log would refuse must fail the request before anything changes
            prepare(self._event(principal, action, targets, "denied", reason, {**extra, "code": "x" * 64}))
        except (TypeError, ValueError) as exc:
            raise Invalid("invalid_characters", "请求中含有不允许的字符或超长内容") from exc
        try:
            yield extra
        except ServiceError as exc:
            self.record(principal, action, targets, "denied", reason, {**extra, "code": exc.code})
            raise
        self.record(principal, action, targets, "allowed", reason, extra)

"""The authenticated caller every service function receives."""

from __future__ import annotations

from dataclasses import dataclass

ALL_OFFICES = "*"


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    role: str
    office: str  # an office code, or * for every office
    client: str = ""  # the caller's address, for the access log
    token_id: str | None = None
    via: str = "password"  # password|oidc|cli
    must_change_password: bool = False  # only /auth/password, /auth/me and /auth/logout until changed

    def sees_office(self, office: str) -> bool:
        return self.office == ALL_OFFICES or self.office == office

"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from archive.errors import Invalid

MIN_LENGTH = 12
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults
_DUMMY = _hasher.hash("timing-equaliser-not-a-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing hash still costs one argon2 verification so that
    unknown names take as long as wrong passwords."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def check_policy(name: str, password: str) -> None:
    """At least 12 characters from at least three of: upper case, lower case, digits, other; not
    containing the user name."""
    if len(password) < MIN_LENGTH:
        raise Invalid("weak_password", f"密码至少需要 {MIN_LENGTH} 个字符")
    if len(password) > 256:
        raise Invalid("weak_password", "密码不能超过 256 个字符")
    classes = sum(
        (
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < 3:
        raise Invalid("weak_password", "密码须包含大写字母、小写字母、数字、符号中的至少三类")
    if name and name.lower() in password.lower():
        raise Invalid("weak_password", "密码不能包含用户名")

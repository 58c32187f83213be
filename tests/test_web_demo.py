"""``archive demo --serve``: one demo user per role, new passwords printed on every run, and no
demo account added beside real users."""

from __future__ import annotations

from archive import cli
from archive.identity import users
from archive.identity.passwords import verify_password
from archive.runtime import open_runtime


def _demo_users(settings) -> dict[str, str]:
    """Run the demo's user step; the demo logins it printed, by name."""
    with cli.console.capture() as captured:
        cli._demo_users(settings)
    out = captured.get()
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0].startswith("demo-"):
            found[parts[0]] = parts[1]
    return found


def test_demo_users_are_made_once_and_their_passwords_renewed(settings) -> None:
    first = _demo_users(settings)
    assert sorted(first) == ["demo-admin", "demo-archivist", "demo-auditor", "demo-caseworker", "demo-reviewer"]
    second = _demo_users(settings)
    assert sorted(second) == sorted(first) and all(second[n] != first[n] for n in first)
    rt = open_runtime(settings)
    try:
        with rt.sessions() as session:
            listed = {u.name: u for u in users.list_users(session)}
        assert len(listed) == 5
        for name, password in second.items():
            assert verify_password(listed[name].password_hash, password)
            assert not listed[name].must_change_password
        assert listed["demo-auditor"].office == "*" and listed["demo-caseworker"].office == settings.office
    finally:
        rt.close()


def test_no_demo_users_beside_real_ones(settings) -> None:
    rt = open_runtime(settings)
    try:
        with rt.sessions.begin() as session:
            users.add_user(session, "zhang.wei", "admin", "*", "Real-Admin-Pass-2026", "system:test")
        assert _demo_users(settings) == {}
        with rt.sessions() as session:
            assert [u.name for u in users.list_users(session)] == ["zhang.wei"]
    finally:
        rt.close()

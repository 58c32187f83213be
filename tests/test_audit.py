"""The access log: append-only in the database, and every kind of tampering caught by verify."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from archive.audit.chain import canonical
from archive.audit.log import AccessEvent, AccessLog
from archive.audit.verify import verify
from archive.runtime import Runtime


def _fill(rt: Runtime, n: int = 25, every: int = 10, algorithm: str = "sha256") -> AccessLog:
    log = AccessLog(rt, algorithm=algorithm, checkpoint_every=every)
    for i in range(n):
        log.append(
            AccessEvent(
                actor=f"user{i % 3}",
                role="caseworker",
                action="dossier_open",
                office="370303",
                client="127.0.0.1",
                targets=(f"d{i}",),
                detail={"page": i, "备注": "查阅"},
            )
        )
    return log


def _rogue_dba(rt: Runtime) -> None:
    """Drop the append-only triggers, as someone with database access could."""
    with rt.db.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER access_log_no_update"))
            conn.execute(text("DROP TRIGGER access_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER access_log_no_change ON access_log"))


def _sql(rt: Runtime, statement: str, **params) -> None:
    with rt.db.begin() as conn:
        conn.execute(text(statement), params)


def test_intact_log_verifies_with_checkpoints(runtime: Runtime) -> None:
    _fill(runtime)
    result = verify(runtime)
    assert result.ok and result.entries == 25 and result.checkpoints == 2
    assert "25" in result.summary()


def test_sm3_chain_verifies(runtime: Runtime) -> None:
    log = _fill(runtime, n=5, algorithm="sm3")
    assert log.checkpoint() is not None
    assert verify(runtime).ok


def test_database_refuses_update_and_delete(runtime: Runtime) -> None:
    _fill(runtime, n=3)
    for statement in ("UPDATE access_log SET actor = 'someone' WHERE seq = 2", "DELETE FROM access_log WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"):
            _sql(runtime, statement)
    assert verify(runtime).ok


def _reorder(rt: Runtime) -> None:
    _sql(rt, "UPDATE access_log SET seq = -3 WHERE seq = 3")
    _sql(rt, "UPDATE access_log SET seq = 3 WHERE seq = 4")
    _sql(rt, "UPDATE access_log SET seq = 4 WHERE seq = -3")


def _insert_forged(rt: Runtime) -> None:
    for seq in range(25, 12, -1):  # make room at 13
        _sql(rt, "UPDATE access_log SET seq = :new WHERE seq = :old", new=seq + 1, old=seq)
    _sql(
        rt,
        "INSERT INTO access_log (seq, id, at, actor, role, office, client, action, targets, reason, outcome, detail,"
        " prev, hash, algorithm) SELECT 13, 'forged', at, 'intruder', role, office, client, action, targets, reason,"
        " outcome, detail, hash, hash, algorithm FROM access_log WHERE seq = 12",
    )


@pytest.mark.parametrize(
    ("tamper", "code", "first_bad"),
    [
        (lambda rt: _sql(rt, "UPDATE access_log SET actor = 'someone-else' WHERE seq = 5"), "entry_altered", 5),
        (lambda rt: _sql(rt, "DELETE FROM access_log WHERE seq = 7"), "entry_missing", 7),
        (_insert_forged, ("chain_broken", "entry_altered"), 13),
        (_reorder, "chain_broken", 3),
        (lambda rt: _sql(rt, "DELETE FROM access_log WHERE seq >= 15"), "truncated", 15),
    ],
    ids=["altered", "deleted", "inserted", "reordered", "truncated"],
)
def test_tampering_is_caught(runtime: Runtime, tamper, code: str | tuple[str, ...], first_bad: int) -> None:
    _fill(runtime)
    _rogue_dba(runtime)
    tamper(runtime)
    result = verify(runtime)
    assert not result.ok
    codes = code if isinstance(code, tuple) else (code,)
    assert result.code in codes and result.first_bad == first_bad, result.summary()
    assert str(first_bad) in result.summary()


def test_recomputed_chain_is_caught_by_the_checkpoints(runtime: Runtime) -> None:
    """An intruder who rewrites an entry and recomputes every later hash still fails the checkpoint."""
    _fill(runtime)
    _rogue_dba(runtime)
    with runtime.db.begin() as conn:
        rows = [r._asdict() for r in conn.execute(text("SELECT * FROM access_log ORDER BY seq"))]
        prev = rows[3]["hash"]
        for row in rows[4:]:
            entry = dict(row)
            for key in ("targets", "detail"):
                if isinstance(entry[key], str):
                    entry[key] = json.loads(entry[key])
            if entry["seq"] == 5:
                entry["actor"] = "someone-else"
            digest = hashlib.sha256(canonical(entry, prev)).hexdigest()
            conn.execute(
                text("UPDATE access_log SET actor = :a, prev = :p, hash = :h WHERE seq = :s"),
                {"a": entry["actor"], "p": prev, "h": digest, "s": entry["seq"]},
            )
            prev = digest
    result = verify(runtime)
    assert (result.ok, result.code, result.first_bad) == (False, "checkpoint_mismatch", 10)


def test_concurrent_appenders_never_fork_the_chain(runtime: Runtime) -> None:
    import threading

    log = AccessLog(runtime, checkpoint_every=1000)
    errors: list[Exception] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                log.append(AccessEvent(actor=f"t{n}", role="auditor", action="search", detail={"i": i}))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = verify(runtime)
    assert result.ok and result.entries == 80


def test_audit_verify_command_exit_status(tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from archive.cli import main
    from archive.runtime import open_runtime
    from archive.settings import Settings, get_settings

    monkeypatch.setenv("ARCHIVE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    rt = open_runtime(Settings(home=tmp_path / "home"))
    _fill(rt, n=12, every=5)
    runner = CliRunner()
    intact = runner.invoke(main, ["audit", "verify"])
    assert intact.exit_code == 0 and "完整" in intact.output
    _rogue_dba(rt)
    _sql(rt, "UPDATE access_log SET reason = 'cover-up' WHERE seq = 4")
    broken = runner.invoke(main, ["audit", "verify", "--json"])
    rt.close()
    get_settings.cache_clear()
    assert broken.exit_code == 1
    report = json.loads(broken.output)
    assert (report["ok"], report["code"], report["first_bad"]) == (False, "entry_altered", 4)

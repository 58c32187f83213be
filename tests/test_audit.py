"""The access log: append-only in the database, and every kind of tampering caught by verify."""

from __future__ import annotations

import hashlib
import json
import time

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


# -- canonical form, parallel verification, the group-commit writer ---------------------------------

TRICKY = ("张三", "😀 astral", 'quo"te', "back\\slash", "new\nline\ttab", "\x01\x1f\x7f", "\u2028", "x" * 3000)


def test_tricky_text_round_trips_through_the_chain(runtime: Runtime) -> None:
    """What the appender hashes (Python) is what the verifier hashes (SQLite concatenation or the
    fetched texts on PostgreSQL), whatever the text holds."""
    log = AccessLog(runtime, checkpoint_every=1000)
    for i, text_ in enumerate(TRICKY):
        log.append(
            AccessEvent(
                actor=text_[:200],
                role="审计员",
                action="search",
                office=text_[:32],
                client=text_[:64],
                targets=(text_, f"d{i}"),
                reason=text_,
                detail={"query": text_, "nested": {"list": [1, 2.5, None, True, text_]}, "空": ""},
            )
        )
    assert verify(runtime).ok
    _rogue_dba(runtime)
    _sql(runtime, "UPDATE access_log SET reason = :r WHERE seq = 6", r=TRICKY[5] + " ")
    assert (verify(runtime).code, verify(runtime).first_bad) == ("entry_altered", 6)


@pytest.mark.parametrize(
    "event",
    [
        AccessEvent(actor="a\x00b", role="r", action="search"),
        AccessEvent(actor="a" * 201, role="r", action="search"),
        AccessEvent(actor="a", role="r", action="search", targets="d1"),  # type: ignore[arg-type]
        AccessEvent(actor="a", role="r", action="search", detail={"x": float("nan")}),
        AccessEvent(actor="a", role="r", action="search", detail={"x": object()}),
        AccessEvent(actor="a", role="r", action="search", reason="\ud800"),
    ],
    ids=["nul", "too-long", "targets-str", "nan", "not-json", "lone-surrogate"],
)
def test_unfit_events_are_refused_before_the_transaction(runtime: Runtime, event: AccessEvent) -> None:
    log = AccessLog(runtime)
    with pytest.raises((ValueError, TypeError)):
        log.append(event)
    log.append(AccessEvent(actor="a", role="r", action="search"))
    result = verify(runtime)
    assert result.ok and result.entries == 1


def test_truncation_behind_the_last_checkpoint_is_caught_by_the_head(runtime: Runtime) -> None:
    _fill(runtime, n=25, every=10)
    _rogue_dba(runtime)
    _sql(runtime, "DELETE FROM access_log WHERE seq > 22")
    result = verify(runtime)
    assert (result.ok, result.code, result.first_bad) == (False, "truncated", 23)


def _tamper_foreign(rt: Runtime) -> None:
    """A value the appender never writes: NULL (PostgreSQL, constraint dropped) or a blob (SQLite)."""
    if rt.db.dialect.name == "sqlite":
        _sql(rt, "UPDATE access_log SET detail = x'00ff' WHERE seq = 12")
    else:
        _sql(rt, "ALTER TABLE access_log ALTER COLUMN detail DROP NOT NULL")
        _sql(rt, "UPDATE access_log SET detail = NULL WHERE seq = 12")


@pytest.mark.parametrize(
    ("tamper", "code", "first_bad"),
    [
        (lambda rt: None, "intact", None),
        (lambda rt: _sql(rt, "UPDATE access_log SET actor = 'x' WHERE seq = 17"), "entry_altered", 17),
        (_reorder, "chain_broken", 3),
        (lambda rt: _sql(rt, "UPDATE access_log SET hash = prev WHERE seq = 40"), "entry_altered", 40),
        (_tamper_foreign, "entry_altered", 12),
    ],
    ids=["intact", "altered", "reordered", "last-hash", "foreign-value"],
)
def test_parallel_verification_gives_the_single_walk_answer(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, tamper, code: str, first_bad: int | None
) -> None:
    import archive.audit.verify as verify_module

    _fill(runtime, n=40, every=10)
    _rogue_dba(runtime)
    tamper(runtime)
    single = verify(runtime, workers=1)
    assert (single.code, single.first_bad) == (code, first_bad)
    monkeypatch.setattr(verify_module, "PARALLEL_MIN", 1)
    monkeypatch.setattr(verify_module, "SLICE_MIN", 3)  # slices of 4 or 5 entries
    answered: list = []
    parse, walk_here = verify_module.parse_result, verify_module.walk_range
    monkeypatch.setattr(verify_module, "parse_result", lambda line: answered.append(parse(line)) or answered[-1])
    # this process walks slowly, so that the workers surely take slices of their own
    monkeypatch.setattr(verify_module, "walk_range", lambda *a: time.sleep(0.02) or walk_here(*a))
    assert verify(runtime, workers=3) == single
    assert verify(runtime, workers=2) == single
    if single.ok:
        assert answered  # the workers did take part
    monkeypatch.setattr(verify_module, "_dsn", lambda rt: "/nonexistent/dir/archive.db")  # workers fail: walked here
    assert verify(runtime, workers=3) == single


def _writer_event(n: int, i: int) -> AccessEvent:
    return AccessEvent(actor=f"t{n}", role="caseworker", action="dossier_open", targets=(f"d{n}-{i}",))


def test_writer_coalesces_concurrent_appends_into_one_durable_chain(runtime: Runtime) -> None:
    import threading

    from archive.audit.writer import AuditWriter

    writer = AuditWriter(runtime, checkpoint_every=50)
    groups: list[int] = []
    write = writer.log.write
    writer.log.write = lambda events: (groups.append(len(events)), write(events))[1]  # type: ignore[method-assign]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            results[n] = [writer.append(_writer_event(n, i)) for i in range(25)]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    key = writer.close()
    assert errors == []
    appended = [a for n in range(8) for a in results[n]]
    assert sorted(a.seq for a in appended) == list(range(1, 201))
    assert all(len(a.hash) == 64 and a.at.endswith("+00:00") for a in appended)
    assert all(results[n] == sorted(results[n], key=lambda a: a.seq) for n in range(8))  # each caller's order kept
    assert sum(groups) == 200 and max(groups) > 1  # several events shared a commit
    assert key is not None and key.startswith("audit/checkpoints/000000000200-")
    result = verify(runtime)
    assert result.ok and result.entries == 200 and result.checkpoints >= 4
    with runtime.db.connect() as conn:
        stored = dict(conn.execute(text("SELECT id, seq FROM access_log")).all())
    assert all(stored[a.id] == a.seq for a in appended)


def test_writer_reports_a_failed_commit_to_every_waiting_caller(runtime: Runtime) -> None:
    from archive.audit.writer import AuditWriteError, AuditWriter

    writer = AuditWriter(runtime)
    first = writer.append(_writer_event(0, 0))
    good_insert = writer.log.insert_sql
    writer.log.insert_sql = good_insert.replace("INTO access_log", "INTO no_such_table")  # the database refuses
    futures = [writer.submit(_writer_event(1, i)) for i in range(5)]
    for future in futures:
        with pytest.raises(AuditWriteError) as caught:
            future.result(timeout=30)
        assert caught.value.__cause__ is not None
    writer.log.insert_sql = good_insert
    again = writer.append(_writer_event(2, 0))
    assert (first.seq, again.seq) == (1, 2)  # the failed group left no trace, not even in the head
    with pytest.raises(ValueError):  # an unfit event fails its own caller, at once
        writer.append(AccessEvent(actor="a\x00", role="r", action="search"))
    writer.close()
    result = verify(runtime)
    assert result.ok and result.entries == 2


def test_writer_close_drains_the_queue_and_refuses_new_events(runtime: Runtime) -> None:
    from archive.audit.writer import AuditWriter, WriterClosed

    writer = AuditWriter(runtime, max_batch=7)
    futures = [writer.submit(_writer_event(0, i)) for i in range(100)]
    assert not futures[-1].cancel()  # submitted events are written even if the caller gives up
    key = writer.close()
    assert [f.result(timeout=0).seq for f in futures] == list(range(1, 101))
    assert key is not None and key.startswith("audit/checkpoints/000000000100-")
    assert writer.close() == key  # idempotent
    with pytest.raises(WriterClosed):
        writer.append(_writer_event(1, 0))
    assert verify(runtime).ok


def test_writer_append_async(runtime: Runtime) -> None:
    import asyncio

    from archive.audit.writer import AuditWriter

    async def main() -> list[int]:
        with AuditWriter(runtime) as writer:
            done = await asyncio.gather(*(writer.append_async(_writer_event(0, i)) for i in range(20)))
        return [a.seq for a in done]

    assert sorted(asyncio.run(main())) == list(range(1, 21))
    assert verify(runtime).entries == 20

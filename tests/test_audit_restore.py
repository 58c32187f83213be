"""The access log after ``archive backup restore``: checkpoints past the backup's head are set aside
only by a restore record that the restored chain names, never by either alone."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from archive.audit.log import RESTORES, AccessEvent, AccessLog, checkpoint_key, restore_key
from archive.audit.verify import Verification, read_checkpoints, verify
from archive.backup.manifest import MANIFEST
from archive.cli_backup import backup
from archive.ids import new_id
from archive.pipeline.runner import current_user
from archive.runtime import Runtime, open_runtime
from archive.settings import Settings
from tests.api_seed import seed

EVERY = 5  # ARCHIVE_AUDIT_CHECKPOINT_EVERY: a checkpoint every 5 entries
PG_TOOLS = shutil.which("pg_dump") is not None and shutil.which("pg_restore") is not None


def _cli(*args: str | Path) -> Result:
    return CliRunner().invoke(backup, [str(a) for a in args])


def _ok(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def _append(rt: Runtime, n: int, action: str = "dossier_open") -> AccessLog:
    """``n`` entries one by one, so that every multiple of ``EVERY`` gets its checkpoint."""
    log = AccessLog(rt, checkpoint_every=EVERY)
    for i in range(n):
        log.append(AccessEvent(actor="system:test", role="admin-cli", action=action, detail={"i": i}))
    return log


def _seq_of(rt: Runtime) -> dict[str, int]:
    """Checkpoint key -> seq."""
    return {c.key: c.seq for c in read_checkpoints(rt.store)}


def _head(rt: Runtime) -> int:
    with rt.db.connect() as conn:
        return conn.execute(text("SELECT seq FROM access_log_head WHERE id = 1")).scalar_one()


def _hash_at(rt: Runtime, seq: int) -> str:
    with rt.db.connect() as conn:
        return conn.execute(text("SELECT hash FROM access_log WHERE seq = :s"), {"s": seq}).scalar_one()


def _rogue_dba(rt: Runtime) -> None:
    """Drop the append-only triggers, as someone with database access could."""
    with rt.db.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER access_log_no_update"))
            conn.execute(text("DROP TRIGGER access_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER access_log_no_change ON access_log"))


def _truncate(rt: Runtime, keep: int) -> None:
    """Delete every entry after ``keep`` and set the chain head back to it: only checkpoints tell."""
    with rt.db.begin() as conn:
        conn.execute(text("DELETE FROM access_log WHERE seq > :k"), {"k": keep})
        last = conn.execute(text("SELECT hash FROM access_log WHERE seq = :k"), {"k": keep}).scalar_one()
        conn.execute(text("UPDATE access_log_head SET seq = :k, hash = :h WHERE id = 1"), {"k": keep, "h": last})


def _forge_record(
    rt: Runtime, head: int, superseded: list[str], *, key: str | None = None, head_hash: str | None = None
) -> str:
    """A restore record as ``restore_backup`` writes it, put straight into the store."""
    now = datetime.now(UTC)
    key = key or restore_key(now, new_id())
    body = {
        "format": "shebao-archive-restore",
        "format_version": 1,
        "at": now.isoformat(timespec="seconds"),
        "actor": "intruder",
        "restored_head": {"seq": head, "hash": head_hash or _hash_at(rt, head)},
        "backup": {"manifest_sha256": "0" * 64, "created_at": now.isoformat(timespec="seconds")},
        "superseded": superseded,
    }
    rt.store.put(key, json.dumps(body).encode("utf-8"))
    return key


def _restore_entry(rt: Runtime, key: str) -> None:
    """A ``backup_restore`` entry naming ``key``, as the restore command appends it."""
    AccessLog(rt, checkpoint_every=1000).append(
        AccessEvent(actor="system:test", role="admin-cli", action="backup_restore", detail={"restore_record": key})
    )


def _parallel(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Verification:
    """The parallel walk over slices of 4 or 5 entries, two worker processes."""
    import archive.audit.verify as verify_module

    with monkeypatch.context() as patch:
        patch.setattr(verify_module, "PARALLEL_MIN", 1)
        patch.setattr(verify_module, "SLICE_MIN", 3)
        return verify(rt, workers=3)


def _summary(result: Verification) -> tuple:
    return (result.ok, result.code, result.first_bad, result.entries, result.superseded)


def test_restore_supersedes_the_checkpoints_past_the_backup(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if settings.database_url and not PG_TOOLS:
        pytest.skip("PostgreSQL client tools (pg_dump, pg_restore) are not on PATH")
    settings.audit_checkpoint_every = EVERY
    monkeypatch.setattr("archive.cli_backup.get_settings", lambda: settings)
    monkeypatch.setattr("archive.cli.get_settings", lambda: settings)
    rt = open_runtime(settings)
    seed(rt)  # stores every object the seeded records reference
    _append(rt, 7)
    rt.close()

    dest = tmp_path / "backup"
    made = _ok(_cli("create", dest, "--json"))
    head = made["manifest"]["access_log"]["seq"]
    rt = open_runtime(settings)
    _append(rt, 12, "late").checkpoint()  # checkpoints past the backup, the last as at API shutdown
    beyond = sorted(key for key, seq in _seq_of(rt).items() if seq > head)
    rt.close()
    assert len(beyond) >= 3

    restored = _ok(_cli("restore", dest, "--yes", "--json"))
    assert restored["superseded"] == len(beyond) and restored["lost_entries"] >= 12
    record_key = restored["restore_record"]
    assert record_key.startswith(RESTORES)

    rt = open_runtime(settings)
    try:
        record = json.loads(rt.store.get(record_key))
        assert record["superseded"] == beyond
        assert record["restored_head"] == {"seq": head, "hash": made["manifest"]["access_log"]["hash"]}
        assert record["backup"]["manifest_sha256"] == hashlib.sha256((dest / MANIFEST).read_bytes()).hexdigest()
        assert record["backup"]["created_at"] == made["manifest"]["created_at"]
        assert record["actor"] == current_user()
        with rt.db.connect() as conn:
            action, detail = conn.execute(
                text("SELECT action, detail FROM access_log WHERE seq = :s"), {"s": head + 1}
            ).one()
        detail = json.loads(detail) if isinstance(detail, str) else detail
        assert action == "backup_restore"
        assert (detail["restore_record"], detail["superseded"]) == (record_key, len(beyond))

        result = verify(rt)
        assert result.ok, result.summary()
        assert (result.superseded, result.checkpoints) == (len(beyond), len(_seq_of(rt)) - len(beyond))
        notice = f"{len(beyond)} 个检查点因 {record['at'][:10]} 恢复备份而作废"
        assert result.notice == notice and notice in result.summary()
        from archive.cli import main

        shown = CliRunner().invoke(main, ["audit", "verify"])
        assert shown.exit_code == 0 and "恢复备份而作废" in shown.output, shown.output

        # The new log grows past every superseded seq: a second checkpoint, another hash, for the same seqs.
        top = max(_seq_of(rt)[key] for key in beyond)
        _append(rt, top - _head(rt) + EVERY)
        by_seq: dict[int, list[str]] = {}
        for key, seq in _seq_of(rt).items():
            by_seq.setdefault(seq, []).append(key)
        doubled = sorted(seq for seq, found in by_seq.items() if len(found) > 1)
        assert doubled and all(seq > head for seq in doubled)
        result = verify(rt)
        assert result.ok, result.summary()
        assert result.superseded == len(beyond)
        assert result.checkpoints == len(_seq_of(rt)) - len(beyond)
        assert _summary(_parallel(rt, monkeypatch)) == _summary(result)
        # A backup of the new log checks out: its chain names the record, as the live one does.
        later = _ok(_cli("create", tmp_path / "later", "--json"))
        assert later["check"]["ok"] is True and later["check"]["access_log"]["superseded"] == len(beyond)

        # The genuine record hides nothing written since: a truncation behind a new checkpoint is caught.
        _rogue_dba(rt)
        _truncate(rt, doubled[-1] - 1)
        single = verify(rt)
        assert (single.ok, single.code, single.first_bad) == (False, "truncated", doubled[-1]), single.summary()
        assert single.superseded == len(beyond) and notice in single.summary()
        assert _summary(_parallel(rt, monkeypatch)) == _summary(single)
    finally:
        rt.close()


def test_a_forged_restore_record_does_not_hide_a_truncation(runtime: Runtime) -> None:
    _append(runtime, 23)  # checkpoints at 5, 10, 15, 20
    _rogue_dba(runtime)
    _truncate(runtime, 12)
    result = verify(runtime)  # no restore at all: caught by the checkpoints
    assert (result.ok, result.code, result.first_bad, result.superseded) == (False, "truncated", 13, 0)

    # Someone who can write objects but not the chain: a record that no entry names.
    beyond = sorted(key for key, seq in _seq_of(runtime).items() if seq > 12)
    forged = _forge_record(runtime, 12, beyond)
    result = verify(runtime)
    assert (result.ok, result.code, result.first_bad, result.superseded) == (False, "truncated", 13, 0)

    # Someone who can write the chain but not objects: an entry naming a record that is not there.
    _restore_entry(runtime, restore_key(datetime.now(UTC), new_id()))
    result = verify(runtime)
    assert (result.ok, result.code, result.first_bad, result.superseded) == (False, "truncated", 14, 0)

    # Both together are what a restore does (and it is reported): the record is honoured only then.
    _restore_entry(runtime, forged)
    result = verify(runtime)
    assert result.ok and (result.entries, result.superseded, result.checkpoints) == (14, 2, 2), result.summary()


def test_a_record_is_not_honoured_where_the_chain_does_not_bear_it_out(runtime: Runtime) -> None:
    _append(runtime, 23)  # checkpoints at 5, 10, 15, 20
    _rogue_dba(runtime)
    _truncate(runtime, 16)
    seqs = _seq_of(runtime)
    beyond = sorted(key for key, seq in seqs.items() if seq > 16)
    # A record listing checkpoints at or before its own head (no restore does that): entry 17.
    _restore_entry(runtime, _forge_record(runtime, 16, sorted(seqs)))
    # A record whose head is not the chain's: entry 18.
    _restore_entry(runtime, _forge_record(runtime, 16, beyond, head_hash="f" * 64))
    # An entry at or before the head the record names: entry 19, the record's head.
    early = restore_key(datetime.now(UTC), new_id())
    _restore_entry(runtime, early)
    _forge_record(runtime, 19, beyond, key=early)
    result = verify(runtime)
    assert (result.ok, result.code, result.first_bad, result.superseded) == (False, "truncated", 20, 0)
    # The same restore done right is honoured (both capabilities, as a real restore has them).
    _restore_entry(runtime, _forge_record(runtime, 16, beyond))
    result = verify(runtime)
    assert result.ok and (result.entries, result.superseded) == (20, 1), result.summary()


def test_an_entry_the_walk_does_not_reach_vouches_for_nothing(runtime: Runtime) -> None:
    """A restore entry past the first bad entry sets no checkpoint aside: the first problem reported
    is the one a walk against every checkpoint finds."""
    _append(runtime, 12)  # checkpoints at 5 and 10
    forged = checkpoint_key(10, "0" * 64)  # a checkpoint the chain does not match ...
    runtime.store.put(forged, json.dumps({"seq": 10, "hash": "0" * 64}).encode("utf-8"))
    _restore_entry(runtime, _forge_record(runtime, 7, [forged]))  # ... set aside by a record that entry 13 names
    assert verify(runtime).ok
    _rogue_dba(runtime)
    with runtime.db.begin() as conn:  # the walk now stops at 11, before entry 13
        conn.execute(text("UPDATE access_log SET reason = 'x' WHERE seq = 11"))
    result = verify(runtime)
    assert (result.ok, result.code, result.first_bad, result.superseded) == (False, "checkpoint_mismatch", 10, 0)


def test_every_checkpoint_recorded_for_a_seq_must_match(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two checkpoints for one seq are both checked, whichever the store lists first."""
    _append(runtime, 12)  # checkpoints at 5 and 10
    assert verify(runtime).ok
    forged = "0" * 64  # its key sorts before the genuine one
    runtime.store.put(checkpoint_key(10, forged), json.dumps({"seq": 10, "hash": forged}).encode("utf-8"))
    result = verify(runtime)
    assert (result.ok, result.code, result.first_bad) == (False, "checkpoint_mismatch", 10)
    assert _summary(_parallel(runtime, monkeypatch)) == _summary(result)

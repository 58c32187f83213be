"""Walk the access-log chain against the write-once checkpoints.

Caught: an entry altered (its hash no longer matches), deleted or inserted (a gap or a broken
link), reordered (a broken link), the whole chain recomputed after a change (the checkpoint's
hash no longer matches), and the tail truncated behind the last checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from archive.audit.chain import GENESIS, canonical, hasher
from archive.audit.log import CHECKPOINTS
from archive.records.models import AccessLogEntry
from archive.runtime import Runtime

_COLUMNS = [
    getattr(AccessLogEntry, name)
    for name in (
        "seq",
        "id",
        "at",
        "actor",
        "role",
        "office",
        "client",
        "action",
        "targets",
        "reason",
        "outcome",
        "detail",
        "prev",
        "hash",
        "algorithm",
    )
]


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    checkpoints: int
    code: str = "intact"
    first_bad: int | None = None  # sequence number of the first bad entry
    message: str = ""

    def summary(self) -> str:
        if self.ok:
            return f"访问日志完整：{self.entries} 条，{self.checkpoints} 个检查点一致"
        return f"访问日志被篡改 [{self.code}]：第 {self.first_bad} 条起 — {self.message}"


def _checkpoints(rt: Runtime) -> dict[int, str]:
    out = {}
    for key in rt.store.keys(CHECKPOINTS):
        body = json.loads(rt.store.get(key))  # the store verifies each object's own hash
        out[int(body["seq"])] = body["hash"]
    return out


def verify(rt: Runtime) -> Verification:
    checkpoints = _checkpoints(rt)
    hashers: dict[str, object] = {}
    expected, prev, count = 1, GENESIS, 0
    with rt.db.connect() as conn:
        rows = conn.execution_options(stream_results=True, yield_per=5000).execute(
            select(*_COLUMNS).order_by(AccessLogEntry.seq)
        )
        for row in rows:
            entry = row._asdict()
            seq = entry["seq"]
            if seq != expected:
                kind = "entry_missing" if seq > expected else "entry_inserted"
                return Verification(False, count, len(checkpoints), kind, expected, f"序号应为 {expected}，实为 {seq}")
            if entry["prev"] != prev:
                return Verification(
                    False,
                    count,
                    len(checkpoints),
                    "chain_broken",
                    seq,
                    "与前一条的哈希链接不符（删除、插入或顺序被改）",
                )
            digest = hashers.setdefault(entry["algorithm"], hasher(entry["algorithm"]))(canonical(entry, prev))  # type: ignore[operator]
            if digest != entry["hash"]:
                return Verification(
                    False, count, len(checkpoints), "entry_altered", seq, "条目内容与其哈希不符（被修改）"
                )
            if seq in checkpoints and checkpoints[seq] != digest:
                return Verification(
                    False, count, len(checkpoints), "checkpoint_mismatch", seq, "与检查点记录的哈希不符（整链被重算）"
                )
            prev, expected, count = digest, expected + 1, count + 1
    last = max(checkpoints, default=0)
    if count < last:
        return Verification(
            False,
            count,
            len(checkpoints),
            "truncated",
            count + 1,
            f"检查点记录了 {last} 条，库中只有 {count} 条（尾部被截断）",
        )
    return Verification(True, count, len(checkpoints))

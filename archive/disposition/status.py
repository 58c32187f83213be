"""The names disposition stores: the destroyed dossier status, appraisal states, object outcomes."""

from __future__ import annotations

from typing import Final

DESTROYED: Final = "destroyed"  # Dossier.status once its destruction was approved

DESTROY: Final = "destroy"
KEEP: Final = "keep"
DECISION_ZH: Final = {DESTROY: "销毁", KEEP: "延长保管"}

PROPOSED: Final = "proposed"
APPROVED: Final = "approved"
DECLINED: Final = "declined"
APPRAISAL_ZH: Final = {PROPOSED: "待审批", APPROVED: "已批准", DECLINED: "未批准"}

# DisposalObject.outcome
PLANNED: Final = "planned"  # recorded with the register, deletion not tried yet
DELETED: Final = "deleted"
PENDING: Final = "pending"  # the store still protects it (or failed): ``archive disposition purge`` retries
SHARED: Final = "shared"  # another dossier that is not destroyed references it: kept
GONE: Final = "gone"  # already absent from the store
OUTCOME_ZH: Final = {PLANNED: "待删除", DELETED: "已删除", PENDING: "暂缓删除", SHARED: "共用保留", GONE: "已不存在"}
UNFINISHED: Final = (PLANNED, PENDING)

"""``archive disposition``: the appraisal list, proposals, approval or refusal by a second person, the
destruction registers, and retrying deletions the store still refused (``purge``).

Every command acts as the operator who runs it (``system:<os user>``, never a name given on the command
line), over every office unless ``--office`` narrows a listing, at the real time; each is written to the
access log, refusals included.  Two operators are two OS accounts: the approver must not be the proposer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from archive.cli_common import audit_event, console, fail
from archive.disposition import appraisal as service
from archive.disposition import status as st
from archive.disposition.destroy import DisposalReport, destroy_objects, purge
from archive.disposition.due import due_list
from archive.disposition.register import open_register
from archive.errors import ServiceError
from archive.pipeline.runner import current_user
from archive.runtime import Runtime, open_runtime
from archive.settings import get_settings

T = TypeVar("T")
SHOWN = 20  # objects named on the terminal; --json lists them all


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _runtime() -> Iterator[Runtime]:
    rt = open_runtime(get_settings())
    try:
        yield rt
    finally:
        rt.close()


def _logged(rt: Runtime, action: str, targets: tuple[str, ...], run: Callable[[], T], **detail: Any) -> T:
    """Run a service call; a refusal is logged as denied with its code and shown as a message."""
    try:
        return run()
    except ServiceError as exc:
        audit_event(rt, action, targets, "denied", code=exc.code, **detail)
        raise fail(exc) from exc


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1))


@click.group()
def disposition() -> None:
    """鉴定与销毁：保管期限届满的案卷须经鉴定，由提议人以外的另一人批准后，才可销毁或延长保管。"""


@disposition.command("list")
@click.option("--office", default=None, help="只看该经办机构")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def list_due(office: str | None, limit: int, as_json: bool) -> None:
    """鉴定清单：保管期限已届满的归档案卷（永久保管的不列入），期限最早届满的在前。"""
    today = _now().date()
    with _runtime() as rt:
        with rt.sessions() as session:
            items = due_list(session, today, office, limit)
        audit_event(rt, "disposition_due", tuple(i.id for i in items), office=office or "*", results=len(items))
    if as_json:
        _echo_json({"as_of": today.isoformat(), "items": [i.to_json() for i in items]})
        return
    table = Table(
        "档号", "题名", "保管期限", "届满日", "页数", "待审批鉴定", title=f"截至 {today} 保管期限已届满的案卷"
    )
    table.add_column("案卷", no_wrap=True, min_width=36)
    for item in items:
        open_one = item.appraisal
        pending = f"{st.DECISION_ZH[open_one.decision]} {open_one.id}" if open_one else "—"
        table.add_row(
            item.archive_number or "—",
            item.title or "—",
            item.retention,
            item.retention_end.isoformat(),
            str(item.page_count),
            pending,
            item.id,
        )
    Console().print(table)
    console.print(f"共 {len(items)} 份", markup=False)


@disposition.command("appraisals")
@click.option("--status", type=click.Choice([st.PROPOSED, st.APPROVED, st.DECLINED]), default=None)
@click.option("--office", default=None, help="只看该经办机构")
def list_appraisals(status: str | None, office: str | None) -> None:
    """列出鉴定（JSON）：提议、结论、审批人与销毁清册。"""
    with _runtime() as rt:
        with rt.sessions() as session:
            views = service.list_appraisals(session, office, status)
        audit_event(rt, "disposition_appraisals", tuple(v.id for v in views), status=status or "", results=len(views))
    _echo_json([v.to_json() for v in views])


@disposition.command("propose")
@click.argument("dossier_ids", nargs=-1, required=True)
@click.option("--decision", type=click.Choice([st.DESTROY, st.KEEP]), required=True, help="destroy 销毁；keep 延长保管")
@click.option("--keep-years", type=int, default=None, help="延长保管的年数（keep 时必填）")
@click.option("--reason", required=True, help="鉴定意见（必填）")
def propose(dossier_ids: tuple[str, ...], decision: str, keep_years: int | None, reason: str) -> None:
    """对保管期限已届满的案卷提交鉴定（须由另一人批准）。"""
    actor = current_user()
    with _runtime() as rt:

        def run() -> service.AppraisalView:
            with rt.sessions.begin() as session:
                return service.propose(
                    session,
                    actor=actor,
                    office=None,
                    dossier_ids=dossier_ids,
                    decision=decision,
                    reason=reason,
                    keep_years=keep_years,
                    now=_now(),
                )

        made = _logged(rt, "disposition_propose", dossier_ids, run, decision=decision)
        audit_event(rt, "disposition_propose", (made.id, *made.dossiers), decision=decision, keep_years=keep_years)
    console.print(
        f"已提交鉴定 {made.id}（{st.DECISION_ZH[decision]}，{len(made.dossiers)} 份案卷），待另一人审批", markup=False
    )
    click.echo(made.id)


def _print_disposal(report: DisposalReport) -> None:
    totals = "，".join(f"{st.OUTCOME_ZH.get(k, k)} {v}" for k, v in sorted(report.totals.items()))
    console.print(f"销毁清册 {report.register_id}：{totals}", markup=False)
    notes = [o for o in report.tried if o.outcome in (st.PENDING, st.SHARED)]
    for item in notes[:SHOWN]:
        what = item.detail if item.key in item.detail else f"{item.key}：{item.detail}"
        console.print(f"  [{st.OUTCOME_ZH[item.outcome]}] {what}", markup=False)
    if len(notes) > SHOWN:
        console.print(f"  ……共 {len(notes)} 个（--json 列出全部）", markup=False)
    if not report.finished:
        console.print("  尚有对象未能删除：存储的保留期限到期后运行 archive disposition purge", markup=False)


@disposition.command("approve")
@click.argument("appraisal_id")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def approve(appraisal_id: str, as_json: bool) -> None:
    """批准鉴定（提议人本人不能批准）。销毁：先写入销毁清册（一次写入、法律保留），再删除对象。"""
    actor = current_user()
    now = _now()
    with _runtime() as rt:

        def run() -> service.Decision:
            with rt.sessions.begin() as session:
                return service.approve(session, rt.store, appraisal_id, actor=actor, office=None, now=now)

        decision = _logged(rt, "disposition_approve", (appraisal_id,), run)
        detail: dict[str, Any] = {"decision": decision.appraisal.decision}
        if decision.register is not None:
            reg = decision.register
            detail.update(register=reg.id, key=reg.key, sha256=reg.sha256, objects_to_delete=reg.objects_to_delete)
        if decision.extended_until is not None:
            detail.update(
                extended_until=decision.extended_until, holds_ok=bool(decision.holds and decision.holds["ok"])
            )
        audit_event(rt, "disposition_approve", (appraisal_id, *decision.appraisal.dossiers), **detail)
        report = None
        if decision.register is not None:  # the register is committed and logged: only now delete
            report = destroy_objects(rt.store, rt.sessions, decision.register.id, now)
            audit_event(rt, "disposition_destroy", (decision.register.id,), totals=report.totals)
    if as_json:
        _echo_json({**decision.to_json(), "disposal": report.to_json() if report else None})
        return
    if decision.register is not None:
        console.print(
            f"已批准销毁 {len(decision.appraisal.dossiers)} 份案卷；销毁清册 {decision.register.id}"
            f"（{decision.register.key}，SHA-256 {decision.register.sha256}）",
            markup=False,
        )
        assert report is not None
        _print_disposal(report)
    else:
        for dossier_id, until in (decision.extended_until or {}).items():
            console.print(f"案卷 {dossier_id} 保管期限延长至 {until}", markup=False)
        if decision.holds and not decision.holds["ok"]:
            console.print("  部分对象未能延长存储保留：运行 archive retention apply 补设", markup=False)


@disposition.command("decline")
@click.argument("appraisal_id")
@click.option("--reason", required=True, help="不批准的理由（必填）")
def decline(appraisal_id: str, reason: str) -> None:
    """不批准鉴定（提议人本人不能处理）；案卷回到鉴定清单。"""
    actor = current_user()
    with _runtime() as rt:

        def run() -> service.AppraisalView:
            with rt.sessions.begin() as session:
                return service.decline(session, appraisal_id, actor=actor, office=None, reason=reason, now=_now())

        declined = _logged(rt, "disposition_decline", (appraisal_id,), run)
        audit_event(rt, "disposition_decline", (appraisal_id, *declined.dossiers), reason=reason)
    console.print(f"鉴定 {appraisal_id} 未获批准，{len(declined.dossiers)} 份案卷回到鉴定清单", markup=False)


@disposition.command("register")
@click.argument("register_id")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（清册文档与各对象的处置结果）")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="把存储的清册原文写入该文件"
)
def register(register_id: str, as_json: bool, output: Path | None) -> None:
    """查看销毁清册（从对象存储读出并核对 SHA-256）；查看记入访问日志。"""
    with _runtime() as rt:
        with rt.sessions() as session:
            view = _logged(
                rt, "disposition_register", (register_id,), lambda: open_register(session, rt.store, register_id, None)
            )
        audit_event(rt, "disposition_register", (register_id,), sha256=view.sha256, output=str(output or ""))
        if output is not None:
            output.write_bytes(rt.store.get(view.key))
    if as_json:
        _echo_json(view.to_json())
        return
    doc = view.document
    console.print(
        f"销毁清册 {view.id}（{view.key}，SHA-256 {view.sha256}）\n"
        f"  鉴定 {doc['appraisal_id']}：{doc['reason']}\n"
        f"  提议 {doc['proposed_by']} {doc['proposed_at']}；批准 {doc['approved_by']} {doc['approved_at']}",
        markup=False,
    )
    table = Table("档号", "题名", "起止日期", "保管期限", "届满日", "页数")
    for entry in doc["entries"]:
        dates = f"{entry['date_start'] or '—'} ~ {entry['date_end'] or '—'}"
        table.add_row(
            entry["archive_number"] or entry["dossier_id"],
            entry["title"] or "—",
            dates,
            entry["retention"] or "—",
            entry["retention_end"],
            str(entry["page_count"]),
        )
    Console().print(table)
    totals = "，".join(f"{st.OUTCOME_ZH.get(k, k)} {v}" for k, v in sorted(view.totals.items()))
    console.print(f"对象：{totals}", markup=False)
    if output is not None:
        console.print(f"清册原文已写入 {output}", markup=False)


@disposition.command("purge")
@click.option("--office", default=None, help="只处理该经办机构的销毁清册")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def purge_command(office: str | None, as_json: bool) -> None:
    """重试已批准销毁但尚未删除的对象（存储的保留期限到期后，或存储恢复后）。"""
    with _runtime() as rt:
        reports = purge(rt.store, rt.sessions, _now(), office)
        totals: dict[str, int] = {}
        for report in reports:
            for outcome, n in report.totals.items():
                totals[outcome] = totals.get(outcome, 0) + n
        audit_event(
            rt,
            "disposition_purge",
            tuple(r.register_id for r in reports),
            registers=len(reports),
            deleted=sum(1 for r in reports for o in r.tried if o.outcome == st.DELETED),
            totals=totals,
        )
    if as_json:
        _echo_json({"registers": [r.to_json() for r in reports]})
        return
    if not reports:
        console.print("没有待删除的对象", markup=False)
    for report in reports:
        _print_disposal(report)

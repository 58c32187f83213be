"""The ``archive`` command."""

from __future__ import annotations

import json
import logging
import secrets
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import logs
from archive import review as review_service
from archive.audit.export import export_csv, export_json
from archive.audit.log import AccessLog
from archive.audit.query import LogFilter
from archive.audit.unusual import unusual_access
from archive.audit.verify import verify as verify_log
from archive.classify.store import active_model_path, load_classifier, taxonomy_for, train_and_activate
from archive.cli_backup import backup as backup_command
from archive.cli_common import audit_event as _audit
from archive.cli_common import console
from archive.cli_common import fail as _fail
from archive.cli_disposition import disposition as disposition_command
from archive.cli_integrity import integrity as integrity_command
from archive.cli_replica import replicate_command, restore_command
from archive.cli_retention import retention as retention_command
from archive.cli_search import search as search_command
from archive.cli_worker import tasks as tasks_command
from archive.cli_worker import worker as worker_command
from archive.errors import ServiceError
from archive.identity import users as user_service
from archive.identity.roles import ROLE_ZH, Role
from archive.intake import expand_paths
from archive.pipeline.runner import BatchBusy, BatchSummary, current_user, run_batch
from archive.pipeline.work import BatchStopped
from archive.records.models import Dossier, TrainingExample
from archive.runtime import open_runtime
from archive.settings import Settings, get_settings
from archive.taxonomy import Taxonomy

STATUS_ZH = {
    "needs_review": "待审核",
    "archived": "已归档",
    "rejected": "已拒收",
    "duplicate": "重复",
    "destroyed": "已销毁",
}
DEMO_BATCH = Path(__file__).with_name("demo") / "sample-batch.pdf"


class RichProgress:
    """Progress bars for files and pages on the terminal."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.files_task = progress.add_task("文件", total=0)
        self.pages_task = progress.add_task("页面 OCR", total=0)

    def files(self, total: int) -> None:
        self.progress.update(self.files_task, total=total)

    def pages_found(self, count: int) -> None:
        task = self.progress.tasks[self.pages_task]
        self.progress.update(self.pages_task, total=(task.total or 0) + count)

    def page_done(self) -> None:
        self.progress.advance(self.pages_task)

    def file_done(self, source: str, status: str) -> None:
        self.progress.advance(self.files_task)


class ReportSink:
    """Report lines to a file (opened at the first line, so a refused run never truncates another
    run's report) or to standard output."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fh = None

    def write(self, line: dict) -> None:
        if self._fh is None:
            self._fh = self.path.open("w", encoding="utf-8") if self.path else sys.stdout
        self._fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None and self._fh is not sys.stdout:
            self._fh.close()


def _print_summary(summary: BatchSummary, report: Path | None) -> None:
    console.print(f"批次 {summary.batch_id}" + ("（续传：已完成的文件未重做）" if summary.resumed else ""))
    table = Table()
    table.add_column("状态")
    table.add_column("案卷数", justify="right")
    for status, count in sorted(summary.by_status.items()):
        table.add_row(f"{STATUS_ZH.get(status, status)} ({status})", str(count))
    console.print(table)
    if summary.problems:
        console.print("问题：" + "，".join(f"{code} × {n}" for code, n in summary.problems.most_common()))
    rss = max(summary.worker_rss_mb.values(), default=0.0)
    console.print(
        f"页数 {summary.pages}，本次 OCR {summary.pages_ocred} 页，用时 {summary.seconds:.1f} 秒，"
        f"{summary.pages_per_minute:.1f} 页/分钟，OCR 进程峰值内存 {rss:.0f} MB"
    )
    if report:
        console.print(f"报告：{report}")


def _ingest(settings: Settings, paths: list[str], office: str, report: Path | None) -> BatchSummary:
    sources = expand_paths(paths)
    if not sources:
        raise click.UsageError("没有找到可入库的文件（支持 PDF、TIFF、JPEG、PNG）")
    logs.configure(settings.home / "logs" / "archive.jsonl")
    rt = open_runtime(settings)
    sink = ReportSink(report)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            summary = run_batch(
                rt, sources, office=office, user=current_user(), emit=sink.write, progress=RichProgress(bar)
            )
        _audit(rt, "ingest", (summary.batch_id,), files=len(sources), office=office)
    except BatchBusy as exc:
        raise click.ClickException(str(exc)) from exc
    except BatchStopped as exc:  # the broker or the workers: what is done stays; the same command resumes
        raise click.ClickException(
            f"[batch_stopped] {exc}；已完成的文件已入库，问题解决后重新运行同一命令即可继续"
        ) from exc
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        sink.close()
        rt.close()
    _print_summary(summary, report)
    return summary


@click.group()
def main() -> None:
    """社保档案数字化服务 — 扫描件批量入库、OCR、归档。"""


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--office", default=None, help="经办机构代码（默认 ARCHIVE_OFFICE）")
@click.option("--report", "report", type=click.Path(dir_okay=False, path_type=Path), help="JSONL 报告文件")
@click.option("--workers", type=int, default=None, help="OCR 进程数（默认 ARCHIVE_OCR_WORKERS）")
@click.option("--engine", type=click.Choice(["paddle", "rapid"]), default=None, help="OCR 引擎")
def ingest(
    paths: tuple[str, ...], office: str | None, report: Path | None, workers: int | None, engine: str | None
) -> None:
    """批量入库扫描件（文件或文件夹，可多个）。"""
    overrides: dict = {}
    if workers is not None:
        overrides["ocr_workers"] = workers
    if engine is not None:
        overrides["ocr_engine"] = engine
    settings = get_settings().model_copy(update=overrides)
    _ingest(settings, list(paths), office or settings.office, report)


@main.command()
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--serve/--no-serve",
    "then_serve",
    default=True,
    show_default=True,
    help="入库后创建示例用户并启动网页与 API（仅本机）",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def demo(report: Path | None, then_serve: bool, port: int) -> None:
    """入库示例批次（含分隔页的扫描件）并打印汇总，随后创建示例用户并启动网页（--no-serve 只入库）。"""
    settings = get_settings()
    report = report or settings.home / "demo-report.jsonl"
    report.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"示例批次：{DEMO_BATCH}，数据目录：{settings.home.resolve()}")
    summary = _ingest(settings, [str(DEMO_BATCH)], settings.office, report)
    lines = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines()]
    counts = Counter(line["status"] for line in lines)
    for line in lines:
        console.print(
            f"  {line['archive_number'] or '（无档号）'}  {line['business_type'] or '类型待定'}  "
            f"{STATUS_ZH.get(line['status'], line['status'])}  "
            f"{len(line['pages'])} 页  身份证号 {', '.join(line['identifiers']['id_numbers']) or '—'}"
        )
    if summary.by_status and counts:
        console.print("示例完成。全文检索：archive search 参保 --json（API：GET /api/v1/search?q=参保）")
    if then_serve:
        _demo_users(settings)
        # Plain HTTP on this machine's loopback: a Secure session cookie would not come back.
        _serve(settings.model_copy(update={"cookie_secure": False}), "127.0.0.1", port)


def _demo_users(settings: Settings) -> None:
    """One demo user per role (demo-archivist …), with new random passwords shown on each run.

    Only the demo-* accounts are touched; an archive that already has other users gets none."""
    rt = open_runtime(settings)
    try:
        with rt.sessions.begin() as session:
            existing = {u.name: u for u in user_service.list_users(session)}
            if any(not name.startswith("demo-") for name in existing):
                console.print("已有正式用户，未创建示例用户（archive users list 查看）。")
                return
            console.print("示例用户（密码每次运行重新生成，只显示这一次）：")
            for role in Role:
                name, password = f"demo-{role.value}", "Demo-" + secrets.token_urlsafe(12)
                office = "*" if role in user_service.WIDE_ROLES else settings.office
                if name in existing:
                    user_service.set_password(session, name, password, must_change=False)
                    user_service.set_disabled(session, name, False, current_user())
                else:
                    user_service.add_user(session, name, role.value, office, password, current_user())
                console.print(f"  {name:<16} {password}  （{ROLE_ZH[role]}，{office}）")
        _audit(rt, "admin", (), change="demo_users")
    finally:
        rt.close()


# -- review (maker-checker) ----------------------------------------------------------------------


def _session_and_taxonomy():
    settings = get_settings()
    rt = open_runtime(settings)
    return rt, taxonomy_for(settings)


def _review_change(change: Callable[[Session, Taxonomy], object], done: str, action: str, dossier_id: str) -> None:
    """Run one review action as the current user, in one transaction; service errors become messages.
    Allowed and refused attempts alike are written to the access log."""
    rt, taxonomy = _session_and_taxonomy()
    try:
        with rt.sessions.begin() as session:
            change(session, taxonomy)
        _audit(rt, "review", (dossier_id,), decision=action)
    except ServiceError as exc:
        _audit(rt, "review", (dossier_id,), "denied", decision=action, code=exc.code)
        raise _fail(exc) from exc
    finally:
        rt.close()
    console.print(done)


@main.group()
def review() -> None:
    """审核队列：查看、更正、批准或驳回待审核案卷（批准人不得为入库人）。"""


@review.command("list")
@click.option("--office", default=None, help="只看该经办机构")
@click.option("--limit", default=50, show_default=True)
def review_list(office: str | None, limit: int) -> None:
    """按问题严重程度列出待审核案卷。"""
    rt, _ = _session_and_taxonomy()
    with rt.sessions() as session:
        items = review_service.queue(session, office, limit)
    table = Table("档号", "业务类型", "置信度", "页数", "问题")
    table.add_column("案卷", no_wrap=True, min_width=36)
    for item in items:
        conf = f"{item.confidence:.2f}" if item.confidence is not None else "—"
        problems = "，".join(p["code"] for p in item.problems) or "—"
        table.add_row(
            item.archive_number or "—", item.business_type or "—", conf, str(item.page_count), problems, item.id
        )
    Console().print(table)
    rt.close()


@review.command("show")
@click.argument("dossier_id")
def review_show(dossier_id: str) -> None:
    """案卷详情（JSON）：识别结果、候选类型、抽取字段、问题与历史。"""
    rt, _ = _session_and_taxonomy()
    with rt.sessions() as session:
        try:
            events = review_service.history(session, dossier_id)
        except ServiceError as exc:
            _audit(rt, "dossier_open", (dossier_id,), "denied", code=exc.code)
            raise _fail(exc) from exc
        _audit(rt, "dossier_open", (dossier_id,))
        dossier = session.get(Dossier, dossier_id)
        out = {
            "id": dossier.id,
            "status": dossier.status,
            "archive_number": dossier.archive_number,
            "business_type": dossier.business_type,
            "confidence": dossier.confidence,
            "candidates": dossier.classification.get("candidates", []),
            "fields": {name: getattr(dossier, name) for name in review_service.EDITABLE},
            "problems": dossier.problems,
            "history": [
                {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "detail": e.detail} for e in events
            ],
        }
    click.echo(json.dumps(out, ensure_ascii=False, indent=1))
    rt.close()


@review.command("correct")
@click.argument("dossier_id")
@click.option("--type", "business_type", default=None, help="正确的业务类型")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE", help="更正字段，可多次使用")
def review_correct(dossier_id: str, business_type: str | None, assignments: tuple[str, ...]) -> None:
    """更正业务类型或字段；修改记入历史，类型更正记为训练数据。"""
    fields = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--set 需要 字段=值 的形式：{item}")
        fields[name.strip()] = value
    _review_change(
        lambda session, taxonomy: review_service.correct(
            session, taxonomy, dossier_id, current_user(), business_type=business_type, fields=fields
        ),
        "已更正。",
        "correct",
        dossier_id,
    )


@review.command("approve")
@click.argument("dossier_id")
def review_approve(dossier_id: str) -> None:
    """批准归档（须由入库人以外的人操作）。"""
    _review_change(
        lambda session, taxonomy: review_service.approve(session, dossier_id, current_user(), taxonomy),
        "已批准归档。",
        "approve",
        dossier_id,
    )


@review.command("reject")
@click.argument("dossier_id")
@click.option("--reason", required=True, help="驳回原因")
def review_reject(dossier_id: str, reason: str) -> None:
    """驳回案卷。"""
    _review_change(
        lambda session, _: review_service.reject(session, dossier_id, current_user(), reason),
        "已驳回。",
        "reject",
        dossier_id,
    )


# -- classifier ------------------------------------------------------------------------------------


@main.group()
def classifier() -> None:
    """业务类型分类模型。"""


@classifier.command("train")
def classifier_train() -> None:
    """用生成语料加上人工确认的案卷重新训练，并启用新模型。"""
    settings = get_settings()
    rt = open_runtime(settings)
    with rt.sessions() as session:
        confirmed = [(list(ex.pages), ex.business_type) for ex in session.scalars(select(TrainingExample))]
    rt.close()
    with console.status("训练中…"):
        path, sha, bundle = train_and_activate(settings, confirmed)
    console.print(
        f"新模型 {bundle['version']}：{path}\nSHA-256 {sha}\n样本 {bundle['examples']}（其中人工确认 {len(confirmed)}）"
    )


@classifier.command("info")
def classifier_info() -> None:
    """当前使用的模型及其哈希。"""
    settings = get_settings()
    model = load_classifier(settings)
    console.print(
        f"版本 {model.version}\n文件 {active_model_path(settings)}\nSHA-256 {model.sha256}\n类别 {'、'.join(model.labels)}"
    )


# -- audit -----------------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """访问日志：校验哈希链、写检查点。"""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
def audit_verify(as_json: bool) -> None:
    """逐条校验访问日志的哈希链与检查点；被篡改时以非零状态退出并指出第一条问题记录。"""
    settings = get_settings()
    rt = open_runtime(settings)
    try:
        result = verify_log(rt)
        _audit(rt, "audit_verify", (), "allowed", ok=result.ok, entries=result.entries)
    finally:
        rt.close()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": result.ok,
                    "entries": result.entries,
                    "checkpoints": result.checkpoints,
                    "code": result.code,
                    "first_bad": result.first_bad,
                    "message": result.message,
                    "superseded": result.superseded,
                    "notice": result.notice,
                },
                ensure_ascii=False,
            )
        )
    else:
        click.echo(result.summary())
    if not result.ok:
        sys.exit(1)


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--reason", required=True, help="导出原因（记入访问日志）")
@click.option("--actor", default=None, help="只导出该用户的记录")
@click.option("--since", default=None, help="起始时间（ISO 8601）")
@click.option("--until", default=None, help="截止时间（ISO 8601）")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="输出文件")
def audit_export(fmt: str, reason: str, actor: str | None, since: str | None, until: str | None, output: Path) -> None:
    """导出访问日志（CSV 或 JSON），附哈希链校验结果。"""
    settings = get_settings()
    rt = open_runtime(settings)
    flt = LogFilter(actor=actor, since=since, until=until)
    try:
        made = (export_csv if fmt == "csv" else export_json)(rt, flt)
        with output.open("wb") as fh:
            for chunk in made.chunks:
                fh.write(chunk)
        _audit(rt, "export", (), reason=reason, format=fmt, verified=made.verification.ok)
    except ServiceError as exc:
        raise _fail(exc) from exc
    finally:
        rt.close()
    console.print(f"已导出到 {output}；{made.verification.summary()}")


@audit.command("unusual")
@click.option("--since", default=None, help="起始时间（默认 7 天前）")
@click.option("--until", default=None, help="截止时间（默认现在）")
def audit_unusual(since: str | None, until: str | None) -> None:
    """异常访问报告：超常调阅量、非工作时间访问、多次被拒、同一人的案卷被多人调阅。"""
    now = datetime.now(UTC)
    rt = open_runtime(get_settings())
    try:
        with rt.sessions() as session:
            report = unusual_access(session, since or (now - timedelta(days=7)).isoformat(), until or now.isoformat())
        _audit(rt, "audit_query", (), report="unusual", findings=len(report.findings))
    except ServiceError as exc:
        raise _fail(exc) from exc
    finally:
        rt.close()
    if not report.findings:
        console.print("未发现异常访问。")
    for finding in report.findings:
        console.print(f"[{finding.kind}] {finding.description}", markup=False)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """把当前链头写入对象存储（只写一次），例如在停机前。"""
    settings = get_settings()
    rt = open_runtime(settings)
    try:
        key = AccessLog(rt, settings.audit_hash, settings.audit_checkpoint_every).checkpoint()
    finally:
        rt.close()
    click.echo(f"检查点：{key}" if key else "日志为空，无需检查点")


# -- users and the server --------------------------------------------------------------------------


@main.group()
def users() -> None:
    """用户管理（系统管理员在服务器上执行，操作记入访问日志）。"""


def _read_password() -> str:
    if sys.stdin.isatty():
        first = click.prompt("密码", hide_input=True)
        if click.prompt("再次输入密码", hide_input=True) != first:
            raise click.UsageError("两次输入的密码不一致")
        return first
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _user_change(change: Callable[[Session], object], action: dict, done: str) -> None:
    settings = get_settings()
    rt = open_runtime(settings)
    try:
        with rt.sessions.begin() as session:
            change(session)
        _audit(rt, "admin", (), **action)
    except ServiceError as exc:
        _audit(rt, "admin", (), "denied", code=exc.code, **action)
        raise _fail(exc) from exc
    finally:
        rt.close()
    console.print(done)


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="角色")
@click.option("--office", required=True, help="经办机构代码（审计员、管理员可用 * 表示全部）")
@click.option("--display-name", default="", help="姓名")
def users_add(name: str, role: str, office: str, display_name: str) -> None:
    """新建用户；密码从标准输入读取（终端中会提示输入两次）。"""
    password = _read_password()
    _user_change(
        lambda session: user_service.add_user(
            session, name, role, office, password, current_user(), display_name, must_change=True
        ),
        {"change": "user_add", "name": name, "role": role, "office": office},
        f"已新建用户 {name}（{ROLE_ZH[Role(role)]}，{office}）",
    )


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """停用用户并吊销其全部令牌。"""
    _user_change(
        lambda session: user_service.set_disabled(session, name, True, current_user()),
        {"change": "user_disable", "name": name},
        f"已停用用户 {name}",
    )


@users.command("enable")
@click.argument("name")
def users_enable(name: str) -> None:
    """重新启用用户（并解除锁定）。"""
    _user_change(
        lambda session: user_service.set_disabled(session, name, False, current_user()),
        {"change": "user_enable", "name": name},
        f"已启用用户 {name}",
    )


@users.command("password")
@click.argument("name")
def users_password(name: str) -> None:
    """重置密码（从标准输入读取），吊销其全部令牌。"""
    password = _read_password()
    _user_change(
        lambda session: user_service.set_password(session, name, password),
        {"change": "password_reset", "name": name},
        f"已重置用户 {name} 的密码",
    )


@users.command("list")
def users_list() -> None:
    """列出用户。"""
    rt = open_runtime(get_settings())
    with rt.sessions() as session:
        rows = user_service.list_users(session)
    rt.close()
    table = Table("用户名", "姓名", "角色", "经办机构", "状态")
    for u in rows:
        table.add_row(u.name, u.display_name or "—", ROLE_ZH[Role(u.role)], u.office, "停用" if u.disabled else "正常")
    Console().print(table)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="端口")
def serve(host: str, port: int) -> None:
    """启动 HTTP API（/api/v1，文档 /docs）。"""
    _serve(get_settings(), host, port)


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app

    logs.configure(settings.home / "logs" / "archive.jsonl", echo=logging.WARNING)
    console.print(f"网页地址：http://{host}:{port}/  （API：http://{host}:{port}/api/v1，文档：/docs）")
    console.print(f"日志（JSON，每行一条）：{settings.home / 'logs' / 'archive.jsonl'}")
    proxies = settings.forwarded_allow_ips
    uvicorn.run(
        create_app(settings),
        log_config=None,  # uvicorn's own lines (start, stop, each request) go to the JSON log too
        host=host,
        port=port,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies,
        server_header=False,
    )


main.add_command(search_command)
main.add_command(backup_command)
main.add_command(integrity_command)
main.add_command(disposition_command)
main.add_command(replicate_command)
main.add_command(restore_command)
main.add_command(retention_command)
main.add_command(worker_command)
main.add_command(tasks_command)

if __name__ == "__main__":
    main()

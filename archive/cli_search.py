"""``archive search``: find dossiers from the command line, rebuild the index, check it for drift.

``archive search QUERY …`` runs a query (the default sub-command); ``archive search reindex``,
``archive search check`` and ``archive search sync`` maintain the index.  A query that is literally
one of those words is written ``archive search query reindex``.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from archive.cli_common import audit_event, console, fail
from archive.errors import ServiceError
from archive.indexing.backend import backend_name
from archive.indexing.outbox import backlog
from archive.reading.finding import to_contract
from archive.records.models import Page
from archive.runtime import open_runtime
from archive.settings import get_settings
from search import ALL, Scope, SearchQuery

# The CLI runs on the server as an operator: every office and every status, unless narrowed.
_EVERY_STATUS = frozenset({"needs_review", "archived", "rejected"})


class _QueryByDefault(click.Group):
    """Arguments that do not name a sub-command are a query."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["query", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_QueryByDefault)
def search() -> None:
    """全文检索：archive search 检索词 [--json]；reindex 重建索引；check 核对索引与记录；sync 补建索引。"""


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@search.command("query")
@click.argument("words", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（total、hits）")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 200), help="返回条数")
@click.option("--type", "types", multiple=True, help="业务类型（可多次）")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None, help="起始日期 YYYY-MM-DD")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None, help="截止日期 YYYY-MM-DD")
@click.option("--office", "offices", multiple=True, help="经办机构代码（可多次）")
@click.option("--status", "statuses", multiple=True, type=click.Choice(sorted(_EVERY_STATUS)), help="案卷状态")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True)
def search_query(
    words: tuple[str, ...],
    as_json: bool,
    limit: int,
    types: tuple[str, ...],
    date_from: datetime | None,
    date_to: datetime | None,
    offices: tuple[str, ...],
    statuses: tuple[str, ...],
    sort: str,
) -> None:
    """检索案卷页面（所有词都须出现；"引号" 内为短语；身份证号、信用代码、档号、业务编号精确匹配）。"""
    query = SearchQuery(
        text=" ".join(words),
        business_types=frozenset(types),
        offices=frozenset(offices),
        statuses=frozenset(statuses),
        date_from=_day(date_from),
        date_to=_day(date_to),
        sort=sort,  # type: ignore[arg-type]
        limit=limit,
    )
    rt = open_runtime(get_settings())
    logged = {"query": query.text, "types": sorted(types), "offices": sorted(offices), "limit": limit}
    try:
        try:
            result = rt.search.search(query, Scope(offices=ALL, statuses=_EVERY_STATUS))
        except ServiceError as exc:
            audit_event(rt, "search", (), "denied", **logged, code=exc.code)
            raise fail(exc) from exc
        shown = sorted({hit.dossier_id for hit in result.hits})
        audit_event(rt, "search", tuple(shown), **logged, results=result.total)
    finally:
        rt.close()
    answer = to_contract(result)
    if as_json:
        click.echo(json.dumps({"total": answer["total"], "hits": answer["hits"]}, ensure_ascii=False))
        return
    table = Table("档号", "业务类型", "页", "摘要", "案卷", title=f"共 {result.total} 页命中")
    for hit in answer["hits"]:
        snippet = hit["snippet"] + ("（近似）" if hit["fuzzy"] else "")
        table.add_row(
            hit["archive_number"] or "—", hit["business_type"] or "—", str(hit["page"]), snippet, hit["dossier"]
        )
    console.print(table)


@search.command("reindex")
def search_reindex() -> None:
    """从记录重建整个检索索引；重建期间检索照常使用旧索引，完成后一次切换。"""
    rt = open_runtime(get_settings())
    try:
        with rt.sessions() as session:
            total = session.scalar(select(func.count()).select_from(Page)) or 0
        with Progress(
            TextColumn("重建索引"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("pages", total=total)
            count = rt.indexer.reindex(lambda n: bar.update(task, completed=n))
        audit_event(rt, "search_reindex", (), pages=count, backend=backend_name(rt.settings))
    finally:
        rt.close()
    console.print(f"索引已重建：{count} 页（{backend_name(rt.settings)}）。")


@search.command("sync")
def search_sync() -> None:
    """把排队等待索引的案卷写入索引（索引曾不可用时补建）。"""
    rt = open_runtime(get_settings())
    try:
        done = rt.indexer.drain()
        with rt.sessions() as session:
            left = backlog(session)
    finally:
        rt.close()
    console.print(f"已索引 {done} 个案卷；仍待索引 {left} 个。")
    if left:
        sys.exit(1)


@search.command("check")
@click.option("--sample", default=50, show_default=True, type=click.IntRange(0, 100_000), help="逐页核对的案卷数")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def search_check(sample: int, as_json: bool) -> None:
    """核对索引与记录：页数、案卷清单，并抽样逐页比对字段与文本；有偏差时以非零状态退出。"""
    rt = open_runtime(get_settings())
    try:
        report = rt.indexer.check(backend_name(rt.settings), sample=sample)
        audit_event(rt, "search_check", (), ok=report.ok, sampled=report.sampled)
    finally:
        rt.close()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        console.print(
            f"索引（{report.backend}）：{report.index_dossiers} 个案卷 {report.index_pages} 页；"
            f"记录：{report.record_dossiers} 个案卷 {report.record_pages} 页；待索引 {report.pending} 个案卷。"
        )
        for dossier_id in report.missing:
            console.print(f"  索引缺少案卷 {dossier_id}")
        for dossier_id in report.extra:
            console.print(f"  索引多出案卷 {dossier_id}（记录中不存在）")
        for item in report.mismatched:
            console.print(f"  案卷 {item['dossier']}：{item['problem']}", markup=False)
        console.print(
            f"抽样核对 {report.sampled} 个案卷："
            + ("一致。" if report.ok else "发现偏差，请运行 archive search reindex。")
        )
        if report.advice:
            console.print(f"建议：{report.advice}", markup=False)
    if not report.ok:
        sys.exit(1)

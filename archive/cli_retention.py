"""``archive retention``: the store holds that keep archived dossiers until their retention (保管期限) ends.

``archive retention apply [--all] [--json]`` holds the objects of every archived dossier that has none yet
(archived while the store could not be reached, or before holds existed); ``--all`` sets every archived
dossier's holds again (after a hold was removed behind the product's back: ``archive integrity check``
names those objects).  Holds only ever grow.  The run is written to the access log
(``retention_apply``); the exit status is 1 when some object could not be held.
"""

from __future__ import annotations

import json
import sys

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from archive.cli_common import audit_event, console
from archive.retention.holds import CHUNK, HoldReport, apply_holds, due
from archive.runtime import open_runtime
from archive.settings import get_settings

FAILURES_SHOWN = 20


@click.group()
def retention() -> None:
    """保管期限：为已归档案卷的对象设置存储保留（定期为保留期限，永久为法律保留）。"""


@retention.command("apply")
@click.option("--all", "recheck", is_flag=True, help="为全部已归档案卷重新设置（默认只处理尚未设置的）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
def retention_apply(recheck: bool, as_json: bool) -> None:
    """为已归档案卷的原件、页面图像、识别结果和双层 PDF 设置存储保留；有失败时以状态 1 退出。"""
    rt = open_runtime(get_settings())
    total = HoldReport()
    try:
        with rt.sessions() as session:
            ids = list(due(session, recheck=recheck))
        with Progress(
            TextColumn("设置保留"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("dossiers", total=len(ids))
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                with rt.sessions.begin() as session:
                    report = apply_holds(rt.store, session, chunk)
                total.dossiers += report.dossiers
                total.objects += report.objects
                total.failed.extend(report.failed)
                bar.update(task, advance=len(chunk))
        failing = tuple(sorted({f.dossier for f in total.failed}))[:FAILURES_SHOWN]
        audit_event(
            rt,
            "retention_apply",
            failing,
            outcome="allowed",
            recheck=recheck,
            dossiers=total.dossiers,
            objects=total.objects,
            failed=len(total.failed),
        )
    finally:
        rt.close()
    if as_json:
        click.echo(json.dumps(total.to_json(), ensure_ascii=False))
    else:
        click.echo(f"已为 {total.dossiers} 个案卷的 {total.objects} 个对象设置保留。")
        for failure in total.failed[:FAILURES_SHOWN]:
            click.echo(f"  失败 [{failure.code}] {failure.key}（案卷 {failure.dossier}）：{failure.detail}")
        if len(total.failed) > FAILURES_SHOWN:
            click.echo(f"  …… 另有 {len(total.failed) - FAILURES_SHOWN} 个失败")
    if not total.ok:
        sys.exit(1)

"""``archive integrity``: the four-property checks (四性检测, DA/T 70-2018) from the command line.

``archive integrity check [--sample FRACTION] [--due DAYS] [--json]`` prints a report per property
and exits 1 when anything failed, naming every failing object by key and dossier.  Every run is
written to the access log (action ``integrity_check``).  The exit status is 0 when everything
checked passed, 1 when something failed, 2 for a usage error.
"""

from __future__ import annotations

import json
import sys

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from archive.cli_common import console
from archive.integrity.run import CheckOptions, check_and_log
from archive.runtime import open_runtime
from archive.settings import get_settings


@click.group()
def integrity() -> None:
    """四性检测（真实性、完整性、可用性、安全性，DA/T 70-2018）：archive integrity check。"""


@integrity.command("check")
@click.option(
    "--sample",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="随机抽检的案卷比例，如 0.1 即 10%",
)
@click.option(
    "--due",
    "due_days",
    default=90.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="只读取超过该天数未核验（或上次未通过）的对象；0 表示全部读取",
)
@click.option("--seed", default=None, type=int, help="抽样随机种子（便于复现）")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64), help="并行核验哈希的线程数")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出报告")
def integrity_check(sample: float, due_days: float, seed: int | None, workers: int, as_json: bool) -> None:
    """检测原件、页面图像、识别结果和双层 PDF 的四性；有不合格项时以状态 1 退出。"""
    options = CheckOptions(sample=sample, due_days=due_days, seed=seed, workers=workers)
    rt = open_runtime(get_settings())
    try:
        with Progress(
            TextColumn("四性检测"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("dossiers", total=None)
            report = check_and_log(
                rt, options, progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
    finally:
        rt.close()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        for line in report.text_lines():
            click.echo(line)
    if not report.ok:
        sys.exit(1)

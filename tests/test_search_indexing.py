"""Search kept in step with the records: ingest and review decisions index through the outbox, a
locked or failed index leaves work queued (never lost), drift is found and re-indexing repairs it,
and the ``archive search`` command answers in its JSON contract and logs every query."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import select

from archive import review
from archive.audit.query import LogFilter, query
from archive.classify.store import taxonomy_for
from archive.cli import main
from archive.indexing.outbox import backlog
from archive.pipeline.runner import run_batch
from archive.reading.finding import mask_snippet
from archive.records.models import Page
from archive.runtime import Runtime, open_runtime
from search import ALL, PageDoc, Scope, SearchQuery
from search.embedded import TantivyIndex
from search.text import normalize
from tests.api_seed import seed
from tests.conftest import FIXTURES

EVERY = Scope(offices=ALL, statuses=frozenset({"needs_review", "archived", "rejected"}))
ARCHIVE = Scope(offices=ALL, statuses=frozenset({"archived"}))
REVIEW = Scope(offices=ALL, statuses=frozenset({"needs_review", "rejected"}))
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{4,}")


def _keys(rt: Runtime, text: str, scope: Scope = EVERY) -> set[tuple[str, int]]:
    result = rt.search.search(SearchQuery(text=text, limit=200, fuzzy=False), scope)
    return {(h.dossier_id, h.page) for h in result.hits}


def test_ingest_indexes_every_page_and_approval_moves_it_into_the_archive(runtime: Runtime, ocr_pool) -> None:
    runtime.settings.classify_threshold = 1.01  # into review
    lines: list[dict] = []
    source = str(FIXTURES / "synthetic" / "dossier-002.pdf")
    run_batch(runtime, [source], office="370303", user="system:a", emit=lines.append, pool_factory=lambda: ocr_pool)
    [line] = lines
    dossier_id = line["dossier"]
    with runtime.sessions() as s:
        pages = s.scalars(select(Page).where(Page.dossier_id == dossier_id).order_by(Page.number)).all()
        texts = {p.number: normalize(p.text) for p in pages}
        assert backlog(s) == 0
    assert runtime.search.count() == len(pages) >= 2
    # Every page is found by a string its own OCR text contains (taken from the text, not from truth).
    for number, text in texts.items():
        run = max(_CJK_RUN.findall(text), key=len)
        needle = run[len(run) // 2 - 2 : len(run) // 2 + 2]
        expected = {(dossier_id, n) for n, t in texts.items() if needle in t}
        assert (dossier_id, number) in expected
        assert _keys(runtime, needle) == expected
        assert _keys(runtime, needle, ARCHIVE) == set()  # not archived yet: no caseworker sees it
    some = next(iter(texts.values()))[:6]
    with runtime.sessions.begin() as s:
        review.correct(s, taxonomy_for(runtime.settings), dossier_id, "system:b", business_type="失业保险金申领")
        review.approve(s, dossier_id, "system:b")
    assert _keys(runtime, some, ARCHIVE) >= {(dossier_id, 1)}
    assert _keys(runtime, some, REVIEW) == set()
    [hit] = [h for h in runtime.search.search(SearchQuery(text=some), ARCHIVE).hits if h.page == 1]
    assert (hit.business_type, hit.status) == ("失业保险金申领", "archived")
    report = runtime.indexer.check("tantivy", sample=10)
    assert report.ok and report.sampled == 1, report


def test_a_locked_index_leaves_work_queued_and_sync_catches_up(runtime: Runtime) -> None:
    """Another process holding the index writer: the records commit, the dossiers stay queued."""
    holder = TantivyIndex(runtime.settings.search_path)
    holder.add([PageDoc(dossier_id="holder", page=1, text="占用")])  # takes the writer lock, never commits
    try:
        data = seed(runtime)
        with runtime.sessions() as s:
            assert backlog(s) == len(data.dossiers)
        report = runtime.indexer.check("tantivy")
        assert report.pending == len(data.dossiers) and report.missing == [] and report.ok
    finally:
        holder.close()
    assert runtime.indexer.drain() == len(data.dossiers)
    with runtime.sessions() as s:
        assert backlog(s) == 0
    assert _keys(runtime, "参保登记") == {(d, 1) for d in data.dossiers.values()}


def test_check_finds_drift_and_reindex_repairs_it(runtime: Runtime) -> None:
    data = seed(runtime)
    assert runtime.indexer.check("tantivy", sample=100).ok
    gone, changed = data.dossiers["a1"], data.dossiers["b1"]
    runtime.search.delete_dossier(gone)  # lost from the index
    runtime.search.commit()
    with runtime.sessions.begin() as s:  # changed behind the outbox's back (e.g. a restored database)
        page = s.scalar(select(Page).where(Page.dossier_id == changed))
        page.text = "失业保险金申领 改动"
    report = runtime.indexer.check("tantivy", sample=100)
    assert not report.ok
    assert report.missing == [gone]
    assert report.index_pages == report.record_pages - 1
    assert [m["dossier"] for m in report.mismatched] == [changed]
    assert runtime.indexer.reindex() == len(data.dossiers)
    report = runtime.indexer.check("tantivy", sample=100)
    assert report.ok, report
    assert _keys(runtime, "改动") == {(changed, 1)}


def test_cli_search_json_contract_check_and_reindex(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    data = seed(runtime)
    monkeypatch.setattr("archive.cli_search.get_settings", lambda: runtime.settings)
    cli = CliRunner()
    result = cli.invoke(main, ["search", "参保登记", "--json", "--limit", "4"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["total"] == len(data.dossiers)
    assert len(answer["hits"]) == 4
    for hit in answer["hits"]:
        assert set(hit) >= {"dossier", "archive_number", "business_type", "page", "score", "snippet"}
        assert hit["dossier"] in data.dossiers.values() and hit["page"] == 1
        assert "【参保登记】" in hit["snippet"]
    narrowed = cli.invoke(main, ["search", "参保登记", "--json", "--office", "370304"])
    assert [h["dossier"] for h in json.loads(narrowed.stdout)["hits"]] == [data.dossiers["b1"]]
    dated = cli.invoke(main, ["search", "参保登记", "--json", "--from", "2001-01-01", "--type", "无此类型"])
    assert json.loads(dated.stdout) == {"total": 0, "hits": []}
    bad = cli.invoke(main, ["search", '"参保'])
    assert bad.exit_code != 0 and "search_unbalanced_quote" in bad.output
    assert cli.invoke(main, ["search", "check"]).exit_code == 0
    assert cli.invoke(main, ["search", "reindex"]).exit_code == 0
    assert cli.invoke(main, ["search", "sync"]).exit_code == 0
    with runtime.sessions() as s:
        logged = query(s, LogFilter(action="search")).entries
    assert [e["detail"]["query"] for e in logged] == ["参保登记", "参保登记", "参保登记", '"参保']
    assert [e["outcome"] for e in logged] == ["allowed", "allowed", "allowed", "denied"]
    assert set(logged[0]["targets"]) == {h["dossier"] for h in answer["hits"]}


@pytest.mark.parametrize(
    ("snippet", "masked"),
    [
        ("号码【110101199003071234】", "号码【1101**********1234】"),
        ("身份证 110101【1990030】71234 电话", "身份证 1101**【*******】*1234 电话"),
        ("…0307123【养老】", "…***7123【养老】"),
        ("【养老】 1101011990…", "【养老】 1101******…"),
        ("…9137022726c 信用代码", "…9137022726c 信用代码"),
    ],
)
def test_snippets_never_show_a_whole_id_number(snippet: str, masked: str) -> None:
    assert mask_snippet(snippet) == masked


def test_the_same_indexing_runs_on_elasticsearch_when_configured(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """ARCHIVE_ES_URL switches the runtime to ``ElasticIndex`` (osmem here, or a real cluster)."""
    import functools

    import search.elastic
    from tests.contract.conftest import session_target

    target = session_target()
    if not target.real:  # osmem refuses the client's versioned media type; the fix lives in the tests
        client = functools.partial(search.elastic.Elasticsearch, node_class=target.node_class)
        monkeypatch.setattr(search.elastic, "Elasticsearch", client)
    es = settings.model_copy(update={"es_url": target.url, "es_index": target.new_alias(), **_es_options()})
    rt = open_runtime(es)
    try:
        assert type(rt.search).__name__ == "ElasticIndex"
        data = seed(rt)
        with rt.sessions() as s:
            assert backlog(s) == 0
        assert _keys(rt, "参保登记") == {(d, 1) for d in data.dossiers.values()}
        with rt.sessions.begin() as s:
            review.approve(s, data.dossiers["r1"], "system:reviewer")
        assert (data.dossiers["r1"], 1) in _keys(rt, "参保登记", ARCHIVE)
        assert rt.indexer.check("elasticsearch", sample=100).ok
        assert rt.indexer.reindex() == len(data.dossiers)
        report = rt.indexer.check("elasticsearch", sample=100)
        assert report.ok and report.index_pages == len(data.dossiers), report
    finally:
        rt.close()


def _es_options() -> dict:
    import os

    options = {}
    if os.environ.get("ARCHIVE_ES_API_KEY"):
        options["es_api_key"] = SecretStr(os.environ["ARCHIVE_ES_API_KEY"])
    return options

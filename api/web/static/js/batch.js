// The live status panel of a batch: polls GET /api/v1/batches/{id} until the batch is done and
// fills the panel's data-field elements (the page renders the same markup with the first state).
// Light polls (detail=false) carry the counts; the problem list and the dossiers awaiting review
// are fetched again (detail=true, access-logged) only when those counts change.
"use strict";
(function () {
  const POLL_MS = 1500;
  const RETRY_MS = 5000;
  const FINAL = ["finished", "failed", "unknown"];
  const STATE_BADGE = { queued: "", running: "warn", finished: "ok", failed: "bad", unknown: "bad" };
  const FILE_BADGE = { pending: "", ingested: "ok", duplicate: "warn", rejected: "bad" };

  const field = (panel, name) => panel.querySelector('[data-field="' + name + '"]');

  function setText(node, text) {
    const value = String(text);
    if (node && node.textContent !== value) { node.textContent = value; }
  }

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // A UTC timestamp as the offices read it: Beijing time (UTC+8), to the minute.
  function beijing(iso) {
    if (!iso) { return "—"; }
    const at = new Date(iso);
    if (isNaN(at.getTime())) { return "—"; }
    const t = new Date(at.getTime() + 8 * 3600 * 1000);
    const two = (n) => String(n).padStart(2, "0");
    return t.getUTCFullYear() + "-" + two(t.getUTCMonth() + 1) + "-" + two(t.getUTCDate()) +
      " " + two(t.getUTCHours()) + ":" + two(t.getUTCMinutes());
  }

  // An uploaded file's name as the person chose it (the stored name starts with its position, 0000-).
  const shown = (name) => (name || "").replace(/^\d{4}-/, "");

  function label(labels, group, key) {
    return (labels[group] && labels[group][key]) || key;
  }

  function sentence(b) {
    const p = b.progress;
    const s = b.summary || {};
    const counts = b.dossiers || {};
    if (p.state === "failed") { return p.error || "批次处理中断"; }
    if (p.state === "unknown") { return "批次处理中断：已处理 " + p.files_done + "/" + p.files_total + " 个文件"; }
    if (p.state === "finished") {
      return "处理完成：案卷 " + (s.dossiers_total || 0) + " 卷，已归档 " + (counts.archived || 0) +
        " 卷，待审核 " + (counts.needs_review || 0) + " 卷，问题 " + (s.problems_total || 0) + " 个";
    }
    return "正在处理：已完成 " + p.files_done + "/" + p.files_total + " 个文件";
  }

  function setBar(bar, value, max) {
    if (!bar) { return; }
    bar.max = Math.max(max, 1);
    bar.value = Math.min(value, bar.max);
    bar.textContent = String(value);
  }

  // Everything a light answer carries: state, counts, progress bars, the file table.
  function render(panel, b) {
    const labels = JSON.parse(panel.dataset.labels || "{}");
    const p = b.progress;
    const s = b.summary || {};
    const counts = b.dossiers || {};
    const final = FINAL.includes(p.state);
    panel.dataset.state = p.state;
    panel.dataset.batchId = b.id;
    const state = field(panel, "state");
    state.className = "badge " + (STATE_BADGE[p.state] || "");
    setText(state, label(labels, "state", p.state));
    const link = field(panel, "link");
    if (link.getAttribute("href") !== "/batches/" + b.id) { link.setAttribute("href", "/batches/" + b.id); }
    setText(field(panel, "id"), b.id);
    setText(field(panel, "created_by"), b.created_by);
    setText(field(panel, "created_at"), beijing(b.created_at));
    setText(field(panel, "finished_at"), beijing(b.finished_at));
    setText(field(panel, "sentence"), sentence(b));
    const error = field(panel, "error");
    error.hidden = !p.error;
    setText(error, p.error || "");
    setText(field(panel, "files_done"), p.files_done);
    setText(field(panel, "files_total"), p.files_total);
    setBar(field(panel, "files_bar"), p.files_done, p.files_total);
    let pages = String(p.pages_done);
    if (p.pages_total) { pages = p.pages_done + " / " + p.pages_total; }
    else if (final) { pages = String(s.pages_stored || 0); }
    setText(field(panel, "pages"), pages);
    setBar(field(panel, "pages_bar"), p.pages_done, p.pages_total);
    setText(field(panel, "classified"), s.dossiers_classified || 0);
    setText(field(panel, "dossiers_total"), s.dossiers_total || 0);
    setText(field(panel, "archived"), counts.archived || 0);
    setText(field(panel, "needs_review"), counts.needs_review || 0);
    setText(field(panel, "problems_total"), s.problems_total || 0);
    setText(field(panel, "files_rejected"), s.files_rejected || 0);
    renderFiles(panel, b.files || [], labels);
  }

  function renderFiles(panel, files, labels) {
    const key = JSON.stringify(files);
    if (panel.filesKey === key) { return; }  // unchanged: keep the table (and the reader's place)
    panel.filesKey = key;
    const body = panel.querySelector('[data-list="files"]');
    const rows = files.map((f) => {
      const row = make("tr");
      row.appendChild(make("td", "", f.position + 1));
      row.appendChild(make("td", "name", shown(f.name)));
      const status = make("td");
      status.appendChild(make("span", "badge " + (FILE_BADGE[f.status] || ""), label(labels, "file", f.status)));
      row.appendChild(status);
      const note = make("td");
      if (f.problem_code) {
        note.appendChild(document.createTextNode((f.problem_detail || "") + " "));
        note.appendChild(make("code", "", f.problem_code));
      }
      row.appendChild(note);
      return row;
    });
    body.replaceChildren(...rows);
  }

  // The lists only a detailed answer carries: dossiers awaiting review, open problems.
  function renderDetails(panel, b) {
    const review = b.review || [];
    const problems = b.problems || [];
    const counts = b.dossiers || {};
    const reviewIds = new Set(review.map((d) => d.id));
    const dossierLink = (id, number) => {
      const a = make("a", "", number || "（无档号）");
      a.href = (panel.dataset.open || "/dossiers/") + encodeURIComponent(id);
      return a;
    };
    panel.querySelector('[data-list="review"]').replaceChildren(...review.map((d) => {
      const item = make("li");
      item.appendChild(dossierLink(d.id, d.archive_number));
      const note = [d.business_type || "未分类"];
      if (d.file_name) { note.push(shown(d.file_name)); }
      note.push("问题 " + d.problems + " 个");
      item.appendChild(document.createTextNode(" "));
      item.appendChild(make("span", "muted", note.join(" · ")));
      return item;
    }));
    panel.querySelector('[data-empty="review"]').hidden = review.length > 0;
    panel.querySelector('[data-more="review"]').hidden = !(review.length && (counts.needs_review || 0) > review.length);
    setText(field(panel, "review_shown"), review.length);

    panel.querySelector('[data-list="problems"]').replaceChildren(...problems.map((q) => {
      const row = make("tr");
      row.appendChild(make("td", "", shown(q.file_name) || "—"));
      const where = make("td");
      if (q.dossier && reviewIds.has(q.dossier)) { where.appendChild(dossierLink(q.dossier, q.archive_number)); }
      else if (q.dossier) { where.textContent = q.archive_number || "（无档号）"; }
      else { where.appendChild(make("span", "muted", "整个文件")); }
      row.appendChild(where);
      row.appendChild(make("td", "", q.page === null || q.page === undefined ? "" : q.page));
      const code = make("td");
      code.appendChild(make("code", "", q.code));
      row.appendChild(code);
      row.appendChild(make("td", "", q.detail));
      return row;
    }));
    panel.querySelector('[data-empty="problems"]').hidden = problems.length > 0;
    panel.querySelector('[data-table="problems"]').hidden = problems.length === 0;
    const more = (b.summary && b.summary.problems_total) || 0;
    panel.querySelector('[data-more="problems"]').hidden = !(problems.length && more > problems.length);
    setText(field(panel, "problems_shown"), problems.length);
  }

  // What decides whether the lists must be fetched again.
  function listKey(b) {
    const s = b.summary || {};
    return JSON.stringify([s.problems_total, s.dossiers_total, b.dossiers, FINAL.includes(b.progress.state)]);
  }

  // Keep ``panel`` current until the batch is finished; returns {stop}.
  function follow(panel, id) {
    const url = (detail) => "/api/v1/batches/" + encodeURIComponent(id) + "?detail=" + detail;
    let detailKey = null;
    let stopped = false;
    let timer = null;
    const schedule = (ms) => { if (!stopped) { timer = setTimeout(tick, ms); } };

    function trouble(message) {
      const error = field(panel, "error");
      error.hidden = false;
      setText(error, message);
    }

    async function tick() {
      timer = null;
      if (document.hidden) { schedule(POLL_MS); return; }  // nobody is looking: wait
      try {
        let b = await Archive.api("GET", url(detailKey === null));
        if (b.problems === null && listKey(b) !== detailKey) { b = await Archive.api("GET", url(true)); }
        if (b.problems !== null) { renderDetails(panel, b); detailKey = listKey(b); }
        render(panel, b);
        if (FINAL.includes(b.progress.state)) { stopped = true; return; }
        schedule(POLL_MS);
      } catch (err) {
        if (err && (err.status === 403 || err.status === 404)) {
          stopped = true;
          trouble((err.message || "无法查看该批次") + "（" + err.code + "）");
          return;
        }
        trouble("暂时无法获取批次状态，正在重试…" + (err && err.message ? "（" + err.message + "）" : ""));
        schedule(RETRY_MS);
      }
    }

    tick();
    return { stop() { stopped = true; if (timer) { clearTimeout(timer); } } };
  }

  // A fresh panel from the page's <template> (the upload page), placed first in ``container``.
  function create(container, id) {
    const template = document.getElementById("batch-panel-template");
    const panel = template.content.querySelector("[data-batch-panel]").cloneNode(true);
    panel.dataset.batchId = id;
    setText(field(panel, "id"), id);
    field(panel, "link").setAttribute("href", "/batches/" + id);
    container.prepend(panel);
    return panel;
  }

  window.ArchiveBatch = { follow, create, render, beijing };

  // Panels rendered by the server for a batch still in progress start following at once.
  document.querySelectorAll("[data-batch-panel][data-batch-id]").forEach((panel) => {
    if (!FINAL.includes(panel.dataset.state)) { follow(panel, panel.dataset.batchId); }
  });
})();

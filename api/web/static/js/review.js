// The reviewer's pages: the queue (keyboard navigation) and the workbench (page viewer, corrections,
// approve / reject through the JSON API, one key each).  No inline script: data comes from data-*.
"use strict";
(function () {
  const FLASH = "review.flash";
  const ZOOM = "review.zoom";

  function key(event) {
    return event.key.length === 1 ? event.key.toLowerCase() : event.key;
  }

  // A radio button or checkbox takes no text: letter keys still act there (arrows stay native).
  function choosing(event) {
    const t = event.target;
    return Boolean(t && t.tagName === "INPUT" && (t.type === "radio" || t.type === "checkbox"));
  }

  function plainKey(event) {
    return !event.ctrlKey && !event.metaKey && !event.altKey && (choosing(event) || !Archive.typing(event));
  }

  // A message carried across a navigation (decision made, then the next dossier opens).
  function flash(message, kind) {
    try { sessionStorage.setItem(FLASH, JSON.stringify({ message, kind: kind || "ok" })); } catch (e) { /* private mode */ }
  }

  function showFlash() {
    let item = null;
    try { item = JSON.parse(sessionStorage.getItem(FLASH) || "null"); sessionStorage.removeItem(FLASH); } catch (e) { item = null; }
    if (item && item.message) { Archive.toast(item.message, item.kind); }
  }

  // ---- the queue --------------------------------------------------------------------------

  function initQueue(root) {
    const links = Array.from(root.querySelectorAll("a.row-link"));
    if (!links.length) { return; }
    const current = () => links.indexOf(document.activeElement);
    function move(step) {
      const at = current();
      const next = at < 0 ? 0 : Math.min(links.length - 1, Math.max(0, at + step));
      links[next].focus();
      links[next].closest("tr").scrollIntoView({ block: "nearest" });
    }
    document.addEventListener("keydown", (event) => {
      if (!plainKey(event)) { return; }
      const k = key(event);
      if (k === "j" || k === "ArrowDown") { event.preventDefault(); move(1); }
      else if (k === "k" || k === "ArrowUp") { event.preventDefault(); move(-1); }
      else if (k === "Enter" && current() < 0 && links.length) { event.preventDefault(); links[0].click(); }
    });
    root.querySelectorAll("tr.queue-row").forEach((row) => {
      row.addEventListener("click", (event) => {
        if (event.target.closest("a, button, summary, details")) { return; }
        window.location.assign(row.dataset.href);
      });
    });
  }

  // ---- the page viewer --------------------------------------------------------------------

  function createViewer(root) {
    const dossier = root.dataset.dossier;
    const stage = document.getElementById("stage");
    const canvas = document.getElementById("canvas");
    const img = document.getElementById("page-image");
    const label = document.getElementById("page-label");
    const zoomLabel = document.getElementById("zoom-label");
    const textLabel = document.getElementById("text-page-label");
    const error = document.getElementById("image-error");
    const buttons = Array.from(root.querySelectorAll(".page-strip [data-goto-page]"));
    const pages = buttons.map((b) => ({
      number: Number(b.dataset.gotoPage),
      rotation: Number(b.dataset.rotation || 0),
      width: Number(b.dataset.width || 0),
      height: Number(b.dataset.height || 0),
      button: b,
    }));
    let index = 0;
    let zoom = Number(localStorage.getItem(ZOOM)) || 1; // 1: the whole page fits the stage
    const rotation = new Map(pages.map((p) => [p.number, p.rotation]));

    // Keep the current page's button in view inside the strip (the window itself does not move).
    function reveal(button) {
      const strip = button.closest(".page-strip");
      const left = button.offsetLeft - strip.offsetLeft;
      if (left < strip.scrollLeft) { strip.scrollLeft = left - 8; }
      else if (left + button.offsetWidth > strip.scrollLeft + strip.clientWidth) {
        strip.scrollLeft = left + button.offsetWidth - strip.clientWidth + 8;
      }
    }

    // Side by side, the image and the text fill the window below the head; stacked, CSS decides.
    function fitHeights() {
      const body = root.querySelector(".wb-body");
      const panes = [root.querySelector(".viewer"), document.getElementById("side")];
      if (window.matchMedia("(max-width: 1000px)").matches) { panes.forEach((el) => { el.style.height = ""; }); return; }
      const top = body.getBoundingClientRect().top + window.scrollY;
      const height = Math.max(420, window.innerHeight - top - 8);
      panes.forEach((el) => { el.style.height = height + "px"; });
    }

    function natural() {
      const p = pages[index];
      return { w: img.naturalWidth || p.width || 1, h: img.naturalHeight || p.height || 1 };
    }

    function fitScale(mode) {
      const { w, h } = natural();
      const sideways = rotation.get(pages[index].number) % 180 !== 0;
      const vw = sideways ? h : w;
      const vh = sideways ? w : h;
      const room = { w: Math.max(100, stage.clientWidth - 12), h: Math.max(100, stage.clientHeight - 12) };
      return mode === "width" ? room.w / vw : Math.min(room.w / vw, room.h / vh);
    }

    function layout() {
      if (!img || !pages.length) { return; }
      const { w, h } = natural();
      const turn = rotation.get(pages[index].number);
      const scale = fitScale("page") * zoom;
      const width = w * scale;
      const height = h * scale;
      const sideways = turn % 180 !== 0;
      img.style.width = width + "px";
      img.style.height = height + "px";
      img.style.transform = "translate(-50%, -50%) rotate(" + turn + "deg)";
      canvas.style.width = (sideways ? height : width) + "px";
      canvas.style.height = (sideways ? width : height) + "px";
      zoomLabel.textContent = Math.round(zoom * 100) + "%";
    }

    function setZoom(value) {
      zoom = Math.min(8, Math.max(0.25, value));
      try { localStorage.setItem(ZOOM, String(zoom)); } catch (e) { /* private mode */ }
      layout();
    }

    function show(number) {
      const at = pages.findIndex((p) => p.number === Number(number));
      if (at < 0 || !img) { return; }
      index = at;
      const p = pages[at];
      error.hidden = true;
      img.alt = "第 " + p.number + " 页扫描图像";
      const src = "/api/v1/dossiers/" + dossier + "/pages/" + p.number + "/image";
      if (img.getAttribute("src") !== src) { img.src = src; }
      layout();
      stage.scrollTop = 0;
      stage.scrollLeft = 0;
      buttons.forEach((b) => b.removeAttribute("aria-current"));
      p.button.setAttribute("aria-current", "true");
      reveal(p.button);
      label.textContent = "第 " + p.number + " / " + pages.length + " 页";
      if (textLabel) { textLabel.textContent = "第 " + p.number + " 页"; }
      root.querySelectorAll(".ocr-page").forEach((s) => { s.hidden = Number(s.dataset.page) !== p.number; });
      history.replaceState(null, "", "#p" + p.number);
    }

    function rotate(step) {
      const n = pages[index].number;
      rotation.set(n, (rotation.get(n) + step + 360) % 360);
      layout();
    }

    if (img) {
      img.addEventListener("load", layout);
      img.addEventListener("error", () => { error.hidden = false; });
    }
    window.addEventListener("resize", () => { fitHeights(); layout(); });
    fitHeights();
    const start = /^#p(\d+)$/.exec(location.hash);
    show(start ? Number(start[1]) : (pages[0] ? pages[0].number : 1));

    return {
      show,
      step(delta) { if (pages.length) { show(pages[Math.min(pages.length - 1, Math.max(0, index + delta))].number); } },
      zoomBy(factor) { setZoom(zoom * factor); },
      fitPage() { setZoom(1); },
      fitWidth() { setZoom(fitScale("width") / fitScale("page")); },
      rotate,
      refit() { fitHeights(); layout(); },
    };
  }

  // ---- check digits (a hint while typing; the server decides) -----------------------------

  const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

  function validId(value) {
    if (!/^[0-9]{17}[0-9X]$/.test(value)) { return false; }
    const sum = ID_WEIGHTS.reduce((acc, w, i) => acc + w * Number(value[i]), 0);
    return "10X98765432"[sum % 11] === value[17];
  }

  function validUscc(value) {
    if (value.length !== 18 || [...value].some((c) => !USCC_CHARS.includes(c))) { return false; }
    const sum = USCC_WEIGHTS.reduce((acc, w, i) => acc + w * USCC_CHARS.indexOf(value[i]), 0);
    return USCC_CHARS[(31 - (sum % 31)) % 31] === value[17];
  }

  function checkField(input) {
    const note = document.getElementById("note-" + input.name);
    if (!note) { return; }
    const value = input.value.trim().toUpperCase();
    if (!value) { note.textContent = ""; note.className = "hint check"; return; }
    const ok = input.dataset.check === "id" ? validId(value) : validUscc(value);
    note.textContent = ok ? "校验位正确" : (value.length < 18 ? "应为 18 位（已输入 " + value.length + " 位）" : "校验位不符，请对照原件核对");
    note.className = "hint check " + (ok ? "ok-text" : "warn-text");
  }

  // ---- the workbench ----------------------------------------------------------------------

  function initWorkbench(root) {
    const dossier = root.dataset.dossier;
    const api = "/api/v1/review/" + dossier;
    const nextHref = root.dataset.next;
    const editable = root.dataset.open === "1";
    const mine = root.dataset.mine === "1";
    const form = document.getElementById("fields-form");
    const typeSelect = document.getElementById("business-type");
    const status = document.getElementById("action-status");
    const dialog = document.getElementById("reject-dialog");
    const reason = document.getElementById("reject-reason");
    const rejectError = document.getElementById("reject-error");
    const inputs = Array.from(form.querySelectorAll("input[name]"));
    const viewer = createViewer(root);
    let busy = false;
    let leaving = false;

    function changes() {
      const fields = {};
      inputs.forEach((input) => {
        if (input.value.trim() !== (input.dataset.original || "").trim()) { fields[input.name] = input.value.trim(); }
      });
      const body = {};
      if (Object.keys(fields).length) { body.fields = fields; }
      if (typeSelect && typeSelect.value && typeSelect.value !== typeSelect.dataset.original) { body.business_type = typeSelect.value; }
      return body;
    }
    const dirty = () => Object.keys(changes()).length > 0;

    function say(message, kind) {
      status.textContent = message;
      status.className = "alert " + (kind || "error");
      status.hidden = !message;
      viewer.refit(); // the message above the panes changes the room left for them
    }

    // Where to send the reviewer after a refusal, by the API's stable code.
    function explain(err, sent) {
      let message = err.message || "操作失败";
      let focus = null;
      if (err.code === "self_approval") {
        message += "（审批人不得为上传人：请由另一位审核员批准或驳回）";
      } else if (err.code === "metadata_missing") {
        message += "。请在“著录字段”的题名栏补录题名，按 S 保存后再批准。";
        focus = document.getElementById("f-title");
      } else if (err.code === "type_required" || err.code === "unknown_business_type") {
        focus = typeSelect;
      } else if (err.code === "problems_open") {
        focus = /身份/.test(message) ? document.getElementById("f-person_id_number") : document.getElementById("f-unit_uscc");
      } else if (err.code === "invalid_value" && sent && sent.fields) {
        focus = inputs.find((i) => i.name in sent.fields && message.includes(i.labels[0].textContent.trim())) || null;
      } else if (err.code === "not_in_review") {
        message += "。按 N 打开下一卷。";
      } else if (err.code === "csrf_failed") {
        message += "。";
      }
      say(message, "error");
      if (focus) { focus.focus(); if (focus.select) { focus.select(); } }
    }

    function goNext(message) {
      leaving = true;
      flash(message, "ok");
      window.location.assign(nextHref);
    }

    function setBusy(value) {
      busy = value;
      root.setAttribute("aria-busy", value ? "true" : "false");
    }

    async function save(thenReload) {
      const body = changes();
      if (!Object.keys(body).length) {
        if (thenReload) { Archive.toast("没有需要保存的更正", "warn"); }
        return true;
      }
      try {
        await Archive.api("POST", api + "/correct", body);
      } catch (err) {
        explain(err, body);
        return false;
      }
      if (thenReload) {
        leaving = true;
        flash("已保存更正", "ok");
        window.location.reload();
      }
      return true;
    }

    async function approve() {
      if (!editable || busy) { return; }
      if (mine) {
        say("审批人不得为上传人：本案卷由您上传，须由另一位审核员批准归档（双人复核）。", "warn");
        document.getElementById("maker-checker").scrollIntoView({ block: "nearest" });
        return;
      }
      setBusy(true);
      say("", "");
      try {
        if (!(await save(false))) { return; }
        await Archive.api("POST", api + "/approve");
        goNext("已批准归档：" + root.dataset.label);
      } catch (err) {
        explain(err);
      } finally {
        setBusy(false);
      }
    }

    function openReject() {
      if (!editable || busy) { return; }
      if (mine) {
        say("审批人不得为上传人：本案卷由您上传，须由另一位审核员驳回（双人复核）。", "warn");
        return;
      }
      rejectError.hidden = true;
      dialog.showModal();
      reason.focus();
    }

    async function reject() {
      const text = reason.value.trim();
      if (!text) {
        rejectError.textContent = "请填写驳回原因";
        rejectError.hidden = false;
        reason.focus();
        return;
      }
      setBusy(true);
      try {
        await Archive.api("POST", api + "/reject", { reason: text });
        dialog.close();
        goNext("已驳回：" + root.dataset.label);
      } catch (err) {
        rejectError.textContent = err.message || "驳回失败";
        rejectError.hidden = false;
        if (err.code === "self_approval" || err.code === "not_in_review") { dialog.close(); explain(err); }
      } finally {
        setBusy(false);
      }
    }

    // Buttons.
    document.getElementById("btn-save").addEventListener("click", () => save(true));
    document.getElementById("btn-approve").addEventListener("click", approve);
    document.getElementById("btn-reject").addEventListener("click", openReject);
    form.addEventListener("submit", (event) => { event.preventDefault(); if (editable) { save(true); } });
    document.getElementById("reject-form").addEventListener("submit", (event) => { event.preventDefault(); reject(); });
    document.getElementById("reject-cancel").addEventListener("click", () => dialog.close());
    reason.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); reject(); }
    });
    dialog.querySelectorAll("[data-reason]").forEach((b) => b.addEventListener("click", () => {
      reason.value = reason.value.trim() ? reason.value.trim() + "；" + b.dataset.reason : b.dataset.reason;
      reason.focus();
    }));
    root.querySelectorAll(".viewer-tools [data-act]").forEach((b) => b.addEventListener("click", () => {
      const act = b.dataset.act;
      if (act === "prev") { viewer.step(-1); }
      else if (act === "next") { viewer.step(1); }
      else if (act === "zoom-in") { viewer.zoomBy(1.25); }
      else if (act === "zoom-out") { viewer.zoomBy(0.8); }
      else if (act === "fit-page") { viewer.fitPage(); }
      else if (act === "fit-width") { viewer.fitWidth(); }
      else if (act === "rotate") { viewer.rotate(90); }
      else if (act === "rotate-back") { viewer.rotate(-90); }
    }));
    root.addEventListener("click", (event) => {
      const goto = event.target.closest("[data-goto-page]");
      if (goto) { viewer.show(goto.dataset.gotoPage); }
      const use = event.target.closest("[data-use]");
      if (use) {
        const input = document.getElementById(use.dataset.use);
        input.value = use.dataset.value;
        input.dispatchEvent(new Event("input"));
        input.focus();
      }
    });
    root.querySelectorAll('input[name="candidate"]').forEach((radio) => radio.addEventListener("change", () => {
      if (radio.checked && typeSelect) { typeSelect.value = radio.value; }
    }));
    if (typeSelect) {
      typeSelect.addEventListener("change", () => {
        root.querySelectorAll('input[name="candidate"]').forEach((r) => { r.checked = r.value === typeSelect.value; });
      });
    }
    inputs.forEach((input) => {
      if (input.dataset.check) {
        input.addEventListener("input", () => checkField(input));
        checkField(input);
      }
      input.addEventListener("input", () => input.classList.toggle("changed", input.value.trim() !== (input.dataset.original || "").trim()));
    });
    window.addEventListener("beforeunload", (event) => {
      if (!leaving && editable && dirty()) { event.preventDefault(); event.returnValue = ""; }
    });

    // Keys: one each; nothing happens while typing in a field (Esc leaves the field).
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && Archive.typing(event) && !dialog.open) { event.target.blur(); return; }
      if (dialog.open || !plainKey(event)) { return; }
      const k = key(event);
      if (choosing(event) && k.startsWith("Arrow")) { return; }
      const actions = {
        ArrowLeft: () => viewer.step(-1),
        ArrowRight: () => viewer.step(1),
        PageUp: () => viewer.step(-1),
        PageDown: () => viewer.step(1),
        "+": () => viewer.zoomBy(1.25),
        "=": () => viewer.zoomBy(1.25),
        "-": () => viewer.zoomBy(0.8),
        "0": () => viewer.fitPage(),
        w: () => viewer.fitWidth(),
        r: () => viewer.rotate(event.shiftKey ? -90 : 90),
        a: approve,
        x: openReject,
        s: () => { if (editable) { save(true); } },
        n: () => { leaving = !dirty() || leaving; window.location.assign(nextHref); },
        q: () => window.location.assign("/review"),
        t: () => {
          const side = document.getElementById("side");
          const text = document.getElementById("sec-text");
          if (side.scrollHeight > side.clientHeight + 1) { side.scrollTop = text.offsetTop - 40; } else { text.scrollIntoView(); }
        },
        e: () => { const first = inputs.find((i) => !i.readOnly); if (first) { first.focus(); } },
        "?": () => { const help = root.querySelector(".keys-help"); help.open = !help.open; },
      };
      if (["1", "2", "3"].includes(k)) {
        const radio = root.querySelector('input[name="candidate"][data-key="' + k + '"]');
        if (radio && !radio.disabled) { radio.checked = true; radio.dispatchEvent(new Event("change")); event.preventDefault(); }
        return;
      }
      if (actions[k]) { event.preventDefault(); actions[k](); }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    showFlash();
    const queue = document.getElementById("review-queue");
    if (queue) { initQueue(queue); }
    const bench = document.getElementById("workbench");
    if (bench) { initWorkbench(bench); }
  });
})();

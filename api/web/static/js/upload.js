// The upload page: choose or drop scans (folders too), check them here, send them as one batch to
// POST /api/v1/batches with XMLHttpRequest (for upload progress), then follow the new batch.
// Files travel in order in one multipart body, so each file's progress is read off the bytes sent.
"use strict";
(function () {
  const box = document.querySelector("[data-upload]");
  if (!box) { return; }
  const ACCEPTED = [".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"];
  const maxFiles = Number(box.dataset.maxFiles);
  const maxBytes = Number(box.dataset.maxBytes);
  const maxFileBytes = Number(box.dataset.maxFileBytes);
  const PART_OVERHEAD = 512;  // room for each part's headers in the multipart body (bytes, generous)

  const input = box.querySelector('input[type="file"]');
  const zone = box.querySelector("[data-dropzone]");
  const list = box.querySelector('[data-list="upload"]');
  const empty = box.querySelector('[data-empty="upload"]');
  const table = box.querySelector('[data-table="upload"]');
  const totals = box.querySelector('[data-field="totals"]');
  const message = box.querySelector('[data-field="message"]');
  const uploadButton = box.querySelector('[data-action="upload"]');
  const cancelButton = box.querySelector('[data-action="cancel"]');
  const clearButton = box.querySelector('[data-action="clear"]');
  const liveBatches = document.querySelector("[data-live-batches]");

  let entries = [];  // {file, problem, row, bar, status, remove, state}
  let xhr = null;    // the upload in flight

  function size(bytes) {
    const units = ["字节", "KB", "MB", "GB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    if (unit === 0) { return value + " 字节"; }
    return (value >= 100 ? value.toFixed(0) : value.toFixed(1).replace(/\.0$/, "")) + " " + units[unit];
  }

  function say(text, kind) {
    message.hidden = !text;
    message.className = "alert " + (kind || "ok");
    message.textContent = text || "";
  }

  function setStatus(entry, text, kind) {
    entry.status.textContent = text;
    entry.status.className = "upload-status" + (kind ? " " + kind : "");
  }

  // The first bytes decide, as on the server (archive.intake.manager.sniff).
  function sniff(bytes) {
    const starts = (sig) => sig.every((b, i) => bytes[i] === b);
    if (starts([0x49, 0x49, 0x2a, 0x00]) || starts([0x4d, 0x4d, 0x00, 0x2a])) { return true; }
    if (starts([0xff, 0xd8, 0xff]) || starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) { return true; }
    const head = String.fromCharCode.apply(null, bytes.subarray(0, 1024));
    return head.includes("%PDF-");
  }

  async function problemOf(file) {
    const dot = file.name.lastIndexOf(".");
    const suffix = dot >= 0 ? file.name.slice(dot).toLowerCase() : "";
    if (!ACCEPTED.includes(suffix)) { return "类型 " + (suffix || "（无扩展名）") + " 不受支持：只接受 PDF、TIFF、JPEG、PNG"; }
    if (file.size === 0) { return "文件为空"; }
    if (file.size > maxFileBytes) { return "超过单个文件上限 " + size(maxFileBytes); }
    try {
      const head = new Uint8Array(await file.slice(0, 1024).arrayBuffer());
      if (!sniff(head)) { return "文件内容不是 PDF、TIFF、JPEG 或 PNG"; }
    } catch (e) {
      return "无法读取该文件";
    }
    return null;
  }

  const valid = () => entries.filter((e) => !e.problem);

  function refresh() {
    const good = valid();
    const bytes = good.reduce((sum, e) => sum + e.file.size, 0);
    const refused = entries.length - good.length;
    empty.hidden = entries.length > 0;
    table.hidden = entries.length === 0;
    let text = entries.length ? good.length + " 个文件，共 " + size(bytes) : "尚未选择文件";
    if (refused) { text += "；" + refused + " 个不符合要求，不会上传"; }
    totals.textContent = text;
    const tooMany = good.length > maxFiles;
    const tooBig = bytes + good.length * PART_OVERHEAD > maxBytes;
    if (!xhr) {
      if (tooMany || tooBig) {
        say("超过单个批次的上限（最多 " + maxFiles + " 个文件、共 " + size(maxBytes) + "），请移除部分文件，分批上传。", "warn");
      } else if (message.dataset.kind === "limits") {
        say("");
      }
      message.dataset.kind = tooMany || tooBig ? "limits" : "";
      uploadButton.disabled = !good.length || tooMany || tooBig || entries.some((e) => e.state !== "ready");
      clearButton.disabled = !entries.length;
    }
  }

  function row(entry, index) {
    const tr = document.createElement("tr");
    const cell = (text, className) => {
      const td = document.createElement("td");
      if (className) { td.className = className; }
      if (text !== undefined) { td.textContent = text; }
      tr.appendChild(td);
      return td;
    };
    cell(String(index + 1));
    cell(entry.file.name, "name");
    cell(size(entry.file.size), "num");
    const barCell = cell(undefined, "col-progress");
    entry.bar = document.createElement("progress");
    entry.bar.max = 100;
    entry.bar.value = 0;
    entry.bar.setAttribute("aria-label", entry.file.name + " 上传进度");
    barCell.appendChild(entry.bar);
    entry.status = document.createElement("span");
    cell(undefined).appendChild(entry.status);
    const actions = cell(undefined);
    entry.remove = document.createElement("button");
    entry.remove.type = "button";
    entry.remove.className = "link";
    entry.remove.textContent = "移除";
    entry.remove.setAttribute("aria-label", "移除 " + entry.file.name);
    entry.remove.addEventListener("click", () => {
      entries = entries.filter((e) => e !== entry);
      redraw();
      input.focus();
    });
    actions.appendChild(entry.remove);
    entry.row = tr;
    return tr;
  }

  function redraw() {
    list.replaceChildren(...entries.map((entry, i) => row(entry, i)));
    entries.forEach((entry) => {
      if (entry.problem) { setStatus(entry, "不会上传：" + entry.problem, "bad"); entry.bar.hidden = true; }
      else { setStatus(entry, "待上传"); }
    });
    refresh();
  }

  async function add(files) {
    if (xhr) { return; }
    if (entries.length && entries.every((e) => e.state === "sent")) { entries = []; }  // a new batch
    const known = new Set(entries.map((e) => e.file.name + "|" + e.file.size + "|" + e.file.lastModified));
    let skipped = 0;
    const fresh = [];
    for (const file of files) {
      const key = file.name + "|" + file.size + "|" + file.lastModified;
      if (known.has(key)) { skipped += 1; continue; }
      known.add(key);
      fresh.push({ file, problem: null, state: "ready" });
    }
    await Promise.all(fresh.map(async (entry) => { entry.problem = await problemOf(entry.file); }));
    entries = entries.concat(fresh);
    say(skipped ? "已跳过 " + skipped + " 个重复选择的文件。" : "", "warn");
    redraw();
  }

  // Files of a dropped folder (and its subfolders), where the browser lets us walk it.
  async function dropped(dataTransfer) {
    const items = Array.from(dataTransfer.items || []);
    const entriesOf = items.map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
    if (!entriesOf.length || entriesOf.some((e) => !e)) { return Array.from(dataTransfer.files || []); }
    const out = [];
    async function walk(entry) {
      if (entry.isFile) {
        out.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        for (;;) {
          const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
          if (!batch.length) { break; }
          for (const child of batch) { await walk(child); }
        }
      }
    }
    for (const entry of entriesOf) { await walk(entry); }
    out.sort((a, b) => a.name.localeCompare(b.name, "zh-CN", { numeric: true }));
    return out;
  }

  function lock(locked) {
    input.disabled = locked;
    zone.classList.toggle("busy", locked);
    uploadButton.disabled = locked;
    clearButton.disabled = locked;
    cancelButton.hidden = !locked;
    entries.forEach((e) => { if (e.remove) { e.remove.disabled = locked; } });
  }

  // Spread the bytes sent over the files, in body order: each file's own share, honestly.
  function progress(sending, loaded, total) {
    const payload = sending.reduce((sum, e) => sum + e.file.size, 0);
    const overhead = Math.max(0, total - payload) / sending.length;
    let offset = 0;
    sending.forEach((entry) => {
      const start = offset + overhead;
      const end = start + entry.file.size;
      offset = end;
      const share = entry.file.size ? (loaded - start) / entry.file.size : (loaded >= end ? 1 : 0);
      const percent = Math.max(0, Math.min(100, Math.floor(share * 100)));
      if (entry.bar.value !== percent) { entry.bar.value = percent; }
      if (percent >= 100) { setStatus(entry, "已发送"); }
      else if (percent > 0) { setStatus(entry, "上传中 " + percent + "%"); }
    });
    totals.textContent = "已发送 " + size(Math.min(loaded, total)) + " / " + size(total);
  }

  // The server names the file it refused in its message; find which one it is.
  function culprit(sending, text) {
    let found = null;
    sending.forEach((entry) => {
      if (text.includes(entry.file.name) && (!found || entry.file.name.length > found.file.name.length)) { found = entry; }
    });
    return found;
  }

  function failed(sending, error) {
    const detail = error.message + "（" + error.code + "）";
    const guilty = culprit(sending, error.message);
    sending.forEach((entry) => {
      entry.state = "ready";
      entry.bar.value = 0;
      if (entry === guilty) { setStatus(entry, "服务器拒收：" + detail, "bad"); entry.problem = "服务器拒收：" + detail; }
      else { setStatus(entry, guilty ? "未上传：同批文件被拒收，整批未接收" : "未上传", "warn"); }
    });
    say("上传失败：" + detail + (guilty ? "。标红的文件不会再上传，可直接重新上传其余文件。" : ""), "error");
    Archive.toast("上传失败：" + error.message, "error");
  }

  function succeeded(sending, created) {
    sending.forEach((entry) => {
      entry.state = "sent";
      entry.bar.value = 100;
      setStatus(entry, "已上传", "ok");
      if (entry.remove) { entry.remove.hidden = true; }
    });
    say("已上传 " + created.files + " 个文件，批次已进入识别队列。下方显示处理进度，可继续选择新的文件上传。", "ok");
    Archive.toast("上传完成，开始识别", "ok");
    const panel = ArchiveBatch.create(liveBatches, created.id);
    ArchiveBatch.follow(panel, created.id);
    panel.querySelector("h2 a").focus();
  }

  function errorOf(request) {
    let body = null;
    try { body = JSON.parse(request.responseText); } catch (e) { body = null; }
    const err = (body && body.error) || {};
    return { status: request.status, code: err.code || "http_" + request.status, message: err.message || "请求失败（" + request.status + "）" };
  }

  function upload() {
    const sending = valid();
    if (!sending.length || xhr) { return; }
    const form = new FormData();
    sending.forEach((entry) => { form.append("files", entry.file, entry.file.name); entry.state = "sending"; setStatus(entry, "等待发送"); });
    xhr = new XMLHttpRequest();
    const request = xhr;
    lock(true);
    say("正在上传，请勿关闭本页面。", "warn");
    request.open("POST", "/api/v1/batches");
    request.setRequestHeader("X-CSRF-Token", Archive.csrf());
    request.responseType = "text";
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) { progress(sending, event.loaded, event.total); }
    });
    request.upload.addEventListener("load", () => {
      sending.forEach((entry) => { entry.bar.value = 100; setStatus(entry, "已发送，服务器校验中…"); });
      say("文件已全部发送，服务器正在校验并登记批次…", "warn");
    });
    const finish = () => { xhr = null; lock(false); refresh(); };
    request.addEventListener("load", () => {
      finish();
      if (request.status === 202) {
        succeeded(sending, JSON.parse(request.responseText));
        refresh();
        return;
      }
      if (request.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent(location.pathname));
        return;
      }
      failed(sending, errorOf(request));
      refresh();
    });
    request.addEventListener("error", () => {
      finish();
      failed(sending, { status: 0, code: "network_error", message: "上传中断：网络错误，或请求超过服务器上限" });
      refresh();
    });
    request.addEventListener("abort", () => {
      finish();
      sending.forEach((entry) => { entry.state = "ready"; entry.bar.value = 0; setStatus(entry, "已取消"); });
      say("已取消上传，没有建立批次。", "warn");
      refresh();
    });
    request.send(form);
  }

  input.addEventListener("change", () => {
    add(Array.from(input.files || []));
    input.value = "";  // choosing the same file again still fires
  });
  uploadButton.addEventListener("click", upload);
  cancelButton.addEventListener("click", () => { if (xhr) { xhr.abort(); } });
  clearButton.addEventListener("click", () => { entries = []; say(""); redraw(); input.focus(); });

  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    if (!xhr) { zone.classList.add("over"); event.dataTransfer.dropEffect = "copy"; }
    else { event.dataTransfer.dropEffect = "none"; }
  }));
  zone.addEventListener("dragleave", (event) => {
    if (!zone.contains(event.relatedTarget)) { zone.classList.remove("over"); }
  });
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (xhr) { return; }
    add(await dropped(event.dataTransfer));
  });
  // A file dropped beside the zone must not make the browser leave the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  window.addEventListener("beforeunload", (event) => {
    if (xhr) { event.preventDefault(); event.returnValue = ""; }
  });

  redraw();
})();

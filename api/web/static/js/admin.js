// Administration pages: users and offices, the taxonomy editor, the live system status.
// Every change goes to the JSON API (Archive.api); errors are shown with the API's Chinese message.
"use strict";
(function () {
  const $ = (selector, root) => (root || document).querySelector(selector);

  function showError(box, err) {
    if (!box) { return; }
    box.textContent = (err && err.message) || "操作失败，请稍后重试";
    box.hidden = false;
  }

  function hideError(box) {
    if (box) { box.hidden = true; box.textContent = ""; }
  }

  // A password the policy accepts: 16 characters from all four classes, drawn with crypto.getRandomValues.
  function generatePassword() {
    const sets = ["ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!#%+-=?@_"];
    const all = sets.join("");
    const pick = (chars) => {
      const n = new Uint32Array(1);
      window.crypto.getRandomValues(n);
      return chars[n[0] % chars.length];
    };
    const out = sets.map(pick);
    while (out.length < 16) { out.push(pick(all)); }
    for (let i = out.length - 1; i > 0; i--) {  // shuffle so the classes are not in a fixed order
      const n = new Uint32Array(1);
      window.crypto.getRandomValues(n);
      const j = n[0] % (i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out.join("");
  }

  // -- the one-time password panel -------------------------------------------------------------
  function showSecret(text, value) {
    const panel = $("#secret");
    if (!panel) { return; }
    $("#secret-text").textContent = text;
    $("#secret-value").textContent = value;
    panel.hidden = false;
    $("#secret-title").focus();
  }

  function initSecret() {
    const panel = $("#secret");
    if (!panel) { return; }
    $("#secret-copy").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText($("#secret-value").textContent);
        Archive.toast("已复制到剪贴板", "ok");
      } catch (e) {
        Archive.toast("无法访问剪贴板，请手工抄录", "warn");
      }
    });
    $("#secret-done").addEventListener("click", () => {
      $("#secret-value").textContent = "";
      $("#secret-text").textContent = "";
      panel.hidden = true;
      if (panel.dataset.reload === "true") { window.location.reload(); }
    });
  }

  // -- users -----------------------------------------------------------------------------------
  function badge(kind, text) {
    const span = document.createElement("span");
    span.className = "badge " + kind;
    span.textContent = text;
    return span;
  }

  function renderUserState(row) {
    const disabled = row.dataset.disabled === "true";
    const locked = row.dataset.locked === "true";
    const mustChange = row.dataset.mustChange === "true";
    const cell = $(".user-state", row);
    cell.replaceChildren();
    if (disabled) { cell.append(badge("bad", "已停用"), " "); }
    if (locked) { cell.append(badge("warn", "已锁定"), " "); }
    if (mustChange) { cell.append(badge("warn", "须修改密码")); }
    if (!disabled && !locked && !mustChange) { cell.append(badge("ok", "正常")); }
    const disable = $('[data-action="disable"]', row);
    const enable = $('[data-action="enable"]', row);
    if (disable) { disable.hidden = disabled; }
    if (enable) {
      enable.hidden = !(disabled || locked);
      enable.textContent = disabled ? "启用" : "解除锁定";
    }
  }

  async function userAction(button) {
    const row = button.closest("tr");
    const name = row.dataset.name;
    const action = button.dataset.action;
    const base = "/api/v1/users/" + encodeURIComponent(name);
    try {
      if (action === "disable") {
        if (!window.confirm("停用用户 " + name + "？其全部登录会话和令牌将立即失效。")) { return; }
        const out = await Archive.api("POST", base + "/disable");
        row.dataset.disabled = String(out.disabled);
        row.dataset.locked = String(out.locked);
        Archive.toast("已停用用户 " + name, "ok");
      } else if (action === "enable") {
        const out = await Archive.api("POST", base + "/enable");
        row.dataset.disabled = String(out.disabled);
        row.dataset.locked = String(out.locked);
        Archive.toast("已启用用户 " + name, "ok");
      } else if (action === "reset") {
        if (!window.confirm("重置用户 " + name + " 的密码？其全部登录会话和令牌将立即失效，下次登录须修改密码。")) { return; }
        const password = generatePassword();
        await Archive.api("POST", base + "/password", { password });
        row.dataset.mustChange = "true";
        showSecret("用户 " + name + " 的临时密码如下（只显示这一次）：", password);
      }
      renderUserState(row);
    } catch (err) {
      Archive.toast(err.message || "操作失败", "error");
    }
  }

  function syncOfficeChoice() {
    const role = $("#u-role");
    const office = $("#u-office");
    if (!role || !office) { return; }
    const wide = (role.dataset.wideRoles || "").split(" ").includes(role.value);
    const star = office.querySelector('option[value="*"]');
    if (!star) { return; }
    star.disabled = !wide;
    if (!wide && office.value === "*") {
      const first = Array.from(office.options).find((o) => !o.disabled);
      if (first) { office.value = first.value; }
    }
  }

  function initCreateUser() {
    const form = $("#create-user");
    if (!form) { return; }
    const manual = $("#pw-manual");
    const password = $("#u-password");
    form.addEventListener("change", (event) => {
      if (event.target.name === "pw-mode") {
        const isManual = event.target.value === "manual";
        manual.hidden = !isManual;
        password.required = isManual;
        if (isManual) { password.focus(); }
      }
    });
    $("#u-role").addEventListener("change", syncOfficeChoice);
    syncOfficeChoice();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = $("#create-error");
      hideError(error);
      const generated = form.elements["pw-mode"].value !== "manual";
      const body = {
        name: form.elements.name.value.trim(),
        display_name: form.elements.display_name.value.trim(),
        role: form.elements.role.value,
        office: form.elements.office.value,
        password: generated ? generatePassword() : password.value,
      };
      const submit = form.querySelector('button[type="submit"]');
      submit.disabled = true;
      try {
        const out = await Archive.api("POST", "/api/v1/users", body);
        form.reset();
        manual.hidden = true;
        password.required = false;
        syncOfficeChoice();
        Archive.toast("已创建用户 " + out.name, "ok");
        if (generated) {
          $("#secret").dataset.reload = "true";
          showSecret("用户 " + out.name + " 的初始密码如下（只显示这一次）：", body.password);
        } else {
          window.location.reload();
        }
      } catch (err) {
        showError(error, err);
      } finally {
        submit.disabled = false;
      }
    });
  }

  function initUserTable() {
    const table = $("#user-table");
    if (!table) { return; }
    table.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) { userAction(button); }
    });
  }

  // -- offices ---------------------------------------------------------------------------------
  function officeRow(office) {
    const row = document.createElement("tr");
    row.dataset.code = office.code;
    const head = document.createElement("th");
    head.scope = "row";
    const code = document.createElement("code");
    code.textContent = office.code;
    head.append(code);
    const cells = [office.name, String(office.users), "刚刚", office.created_by].map((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 0) { td.className = "office-name"; }
      if (i === 1) { td.className = "num"; }
      return td;
    });
    row.append(head, ...cells);
    return row;
  }

  function addOfficeOption(select, office, label) {
    if (!select) { return; }
    const existing = select.querySelector('option[value="' + CSS.escape(office.code) + '"]');
    const option = existing || document.createElement("option");
    option.value = office.code;
    option.textContent = label;
    if (!existing) {
      const star = select.querySelector('option[value="*"]');
      select.insertBefore(option, star);
    }
  }

  function initOffices() {
    const add = $("#office-add");
    const rename = $("#office-rename");
    if (add) {
      add.addEventListener("submit", async (event) => {
        event.preventDefault();
        const error = $("#office-add-error");
        hideError(error);
        try {
          const body = { code: add.elements.code.value.trim(), name: add.elements.name.value.trim() };
          const out = await Archive.api("POST", "/api/v1/offices", body);
          const tbody = $("#office-table tbody");
          const empty = $("tr.empty", tbody);
          if (empty) { empty.remove(); }
          tbody.append(officeRow(out));
          addOfficeOption($("#u-office"), out, out.code + " " + out.name);
          addOfficeOption($("#r-code"), out, out.code + " " + out.name);
          add.reset();
          Archive.toast("已登记经办机构 " + out.code + " " + out.name, "ok");
        } catch (err) {
          showError(error, err);
        }
      });
    }
    if (rename) {
      rename.addEventListener("submit", async (event) => {
        event.preventDefault();
        const error = $("#office-rename-error");
        hideError(error);
        const code = rename.elements.code.value;
        if (!code) { showError(error, { message: "请先登记经办机构" }); return; }
        try {
          const out = await Archive.api("PATCH", "/api/v1/offices/" + encodeURIComponent(code), { name: rename.elements.name.value.trim() });
          const row = $('#office-table tr[data-code="' + CSS.escape(out.code) + '"]');
          if (row) { $(".office-name", row).textContent = out.name; }
          addOfficeOption($("#u-office"), out, out.code + " " + out.name);
          addOfficeOption($("#r-code"), out, out.code + " " + out.name);
          rename.elements.name.value = "";
          Archive.toast("经办机构 " + out.code + " 已改名为 " + out.name, "ok");
        } catch (err) {
          showError(error, err);
        }
      });
    }
  }

  // -- taxonomy --------------------------------------------------------------------------------
  function initTaxonomy() {
    const form = $("#taxonomy-form");
    if (!form) { return; }
    const text = $("#taxonomy-text");
    const error = $("#taxonomy-error");
    let dirty = false;
    text.addEventListener("input", () => { dirty = true; });
    form.addEventListener("reset", () => { dirty = false; hideError(error); });
    window.addEventListener("beforeunload", (event) => {
      if (dirty) { event.preventDefault(); event.returnValue = ""; }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      hideError(error);
      const submit = form.querySelector('button[type="submit"]');
      submit.disabled = true;
      try {
        await Archive.api("PUT", form.dataset.url, { text: text.value, base_sha256: form.dataset.sha });
        dirty = false;
        window.location.assign("/admin/taxonomy?saved=true");
      } catch (err) {
        showError(error, err);
        error.focus();
      } finally {
        submit.disabled = false;
      }
    });
  }

  // -- system status ---------------------------------------------------------------------------
  function initStatus() {
    const head = $("#status-page");
    if (!head) { return; }
    const labels = JSON.parse(head.dataset.labels || "{}");
    const states = JSON.parse(head.dataset.states || "{}");
    const badges = JSON.parse(head.dataset.badges || "{}");
    const every = Number(head.dataset.every || "10") * 1000;
    const times = new Set(["last_verified", "last_check"]);
    let paused = false;
    let timer = null;
    let lastOverall = $("#status-overall").textContent.trim();

    const pad = (n) => String(n).padStart(2, "0");
    function beijing(iso) {  // the offices read Beijing time (UTC+8)
      const d = new Date(new Date(iso).getTime() + 8 * 3600 * 1000);
      return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
        pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    }
    function factText(key, value) {
      if (value === null || value === undefined) { return "—"; }
      if (typeof value === "boolean") { return value ? "是" : "否"; }
      if (times.has(key)) { return beijing(value); }
      if (key === "disk_free_bytes") { return (value / 1024 ** 3).toFixed(1) + " GB"; }
      if (key === "disk_free_share") { return Math.round(value * 100) + "%"; }
      if (key === "latency_ms") { return value + " 毫秒"; }
      return String(value);
    }
    function uptime(seconds) {
      const days = Math.floor(seconds / 86400);
      const hours = Math.floor((seconds % 86400) / 3600);
      const minutes = Math.floor((seconds % 3600) / 60);
      if (days) { return days + " 天 " + hours + " 小时"; }
      if (hours) { return hours + " 小时 " + minutes + " 分钟"; }
      return minutes + " 分钟";
    }
    function setBadge(el, status) {
      el.className = "badge " + (badges[status] || "warn");
      el.textContent = states[status] || status;
    }

    function render(data) {
      const overall = $("#status-overall");
      setBadge(overall, data.status);
      if (overall.textContent !== lastOverall) {  // announce only a change, not every refresh
        $("#status-live").textContent = "整体状态变为：" + overall.textContent;
        lastOverall = overall.textContent;
      }
      $("#status-uptime").textContent = uptime(data.uptime_seconds);
      $("#status-version").textContent = data.version;
      const checked = $("#status-checked");
      checked.setAttribute("datetime", data.checked_at);
      checked.textContent = beijing(data.checked_at);
      for (const part of data.parts) {
        const card = $('.status-part[data-key="' + CSS.escape(part.key) + '"]');
        if (!card) { continue; }
        card.className = "card status-part " + part.status;
        setBadge($('[data-role="badge"]', card), part.status);
        $('[data-role="message"]', card).textContent = part.message;
        const facts = $('[data-role="facts"]', card);
        facts.replaceChildren(...Object.entries(part.facts).map(([key, value]) => {
          const item = document.createElement("div");
          const dt = document.createElement("dt");
          const dd = document.createElement("dd");
          dt.textContent = labels[key] || key;
          dd.textContent = factText(key, value);
          item.append(dt, dd);
          return item;
        }));
      }
    }

    async function refresh() {
      const error = $("#status-error");
      try {
        render(await Archive.api("GET", head.dataset.url));
        hideError(error);
      } catch (err) {
        showError(error, { message: "无法获取系统状态：" + (err.message || "请求失败") });
      }
    }
    function schedule() {
      clearInterval(timer);
      timer = paused ? null : setInterval(() => { if (!document.hidden) { refresh(); } }, every);
    }
    $("#status-refresh").addEventListener("click", refresh);
    $("#status-toggle").addEventListener("click", (event) => {
      paused = !paused;
      event.currentTarget.setAttribute("aria-pressed", String(paused));
      event.currentTarget.textContent = paused ? "恢复自动刷新" : "暂停自动刷新";
      $("#status-note").textContent = paused ? "自动刷新已暂停" : "每 10 秒自动刷新一次";
      schedule();
    });
    document.addEventListener("visibilitychange", () => { if (!document.hidden && !paused) { refresh(); } });
    schedule();
  }

  document.addEventListener("DOMContentLoaded", () => {
    initSecret();
    initUserTable();
    initCreateUser();
    initOffices();
    initTaxonomy();
    initStatus();
  });
})();

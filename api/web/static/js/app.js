// Shared helpers for every page: JSON calls to the API with the session's CSRF token, messages.
"use strict";
(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // Call the JSON API as the signed-in user; resolves to the parsed body, rejects with {code, message}.
  async function api(method, url, body) {
    const init = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } };
    if (body instanceof FormData) { init.body = body; }
    else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    const response = await fetch(url, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!response.ok) {
      const err = (data && data.error) || {};
      if (response.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search)); }
      throw { status: response.status, code: err.code || ("http_" + response.status), message: err.message || "请求失败（" + response.status + "）" };
    }
    return data;
  }

  // A message in the corner: kind is ok | error | warn.
  function toast(message, kind) {
    const box = document.getElementById("toast");
    if (!box) { return; }
    const item = document.createElement("p");
    item.className = "alert " + (kind || "ok");
    item.textContent = message;
    box.appendChild(item);
    setTimeout(() => item.remove(), kind === "error" ? 9000 : 4000);
  }

  function typing(event) {
    const t = event.target;
    return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
  }

  window.Archive = { api, toast, csrf, typing };
})();

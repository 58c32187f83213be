// The auditor's explorer: run the access-log chain verification through the API and show the result.
"use strict";
(function () {
  const button = document.getElementById("verify-run");
  const out = document.getElementById("verify-result");
  const latest = document.getElementById("verify-latest");
  if (!button || !out) { return; }

  function line(text, tag) {
    const p = document.createElement(tag || "p");
    p.textContent = text;
    return p;
  }

  function show(kind, lines) {
    out.className = "verify-result alert " + kind;
    out.replaceChildren(...lines);
  }

  // Now in Beijing time as the page writes times: 2026-03-01 09:30.
  function now() {
    return new Date().toLocaleString("sv-SE", { timeZone: "Asia/Shanghai", hour12: false }).slice(0, 16);
  }

  function badge(kind, text) {
    const span = document.createElement("span");
    span.className = "badge " + kind;
    span.textContent = text;
    return span;
  }

  function describe(result) {
    const lines = [];
    if (result.ok) {
      lines.push(line("校验通过：访问日志哈希链完整。", "strong"));
      lines.push(line("已校验记录 " + result.entries + " 条，检查点 " + result.checkpoints + " 个，全部一致。"));
    } else {
      lines.push(line("校验未通过：哈希链在第 " + result.first_bad + " 条记录处断开。", "strong"));
      lines.push(line("问题类型：" + result.code + "。" + (result.message || "")));
      const before = Math.max(0, (result.first_bad || 1) - 1);
      lines.push(line("此前的 " + before + " 条记录完整；已校验检查点 " + result.checkpoints + " 个。请立即报告并保全现场。"));
    }
    if (result.notice) { lines.push(line(result.notice)); }
    return lines;
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    show("warn", [line("正在校验访问日志，记录较多时需要一些时间……")]);
    try {
      const result = await Archive.api("GET", button.dataset.url);
      show(result.ok ? "ok" : "error", describe(result));
      if (latest) {
        latest.replaceChildren(
          "最近一次校验：" + now() + "（本人）—— ",
          result.ok ? badge("ok", "完整") : badge("bad", "未通过"),
          result.ok ? " 共 " + result.entries + " 条记录" : " 自第 " + result.first_bad + " 条起（" + result.code + "）"
        );
      }
    } catch (err) {
      show("error", [line("校验未能完成：" + (err && err.message ? err.message : "请求失败"))]);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
})();

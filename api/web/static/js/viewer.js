// The dossier viewer: download with a reason, OCR text per page, sideways scans, the current page.
"use strict";
(function () {
  const viewer = document.querySelector(".viewer");
  if (!viewer) { return; }
  const figures = Array.from(viewer.querySelectorAll("figure.page"));
  const thumbLinks = new Map(Array.from(viewer.querySelectorAll(".thumbs a[data-page]")).map((a) => [a.dataset.page, a]));

  // -- downloads: a reason is required, then the browser goes to the API's download address ------
  const dialog = document.getElementById("download-dialog");
  const form = document.getElementById("download-form");
  let target = "";
  let opener = null;
  if (dialog && form) {
    const whatSlot = dialog.querySelector('[data-slot="what"]');
    const note = form.elements.namedItem("reason_note");
    const error = document.getElementById("reason-error");
    const fail = (message) => { error.textContent = message; error.hidden = false; };
    viewer.addEventListener("click", (event) => {
      const button = event.target.closest("[data-download]");
      if (!button) { return; }
      target = button.dataset.download;
      opener = button;
      whatSlot.textContent = button.dataset.what || "";
      error.hidden = true;
      form.reset();
      dialog.showModal();
    });
    dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => { if (opener) { opener.focus(); } });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = form.querySelector('input[name="reason_choice"]:checked');
      const extra = note.value.trim();
      if (!chosen) { fail("请选择下载原因"); return; }
      if (chosen.value === "其他" && extra.length < 2) { fail("选择“其他”时请填写具体原因（至少 2 个字）"); note.focus(); return; }
      const reason = chosen.value === "其他" ? extra : chosen.value + (extra ? "：" + extra : "");
      dialog.close();
      Archive.toast("正在生成带水印的文件，请稍候…", "ok");
      window.location.assign(target + "?reason=" + encodeURIComponent(reason));
    });
  }

  // -- OCR text of one page, fetched when asked for ---------------------------------------------
  viewer.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-text]");
    if (!button) { return; }
    const box = document.getElementById(button.getAttribute("aria-controls"));
    const open = button.getAttribute("aria-expanded") === "true";
    if (open) { box.hidden = true; button.setAttribute("aria-expanded", "false"); return; }
    if (!box.dataset.loaded) {
      box.textContent = "正在读取识别文本…";
      box.hidden = false;
      try {
        const data = await Archive.api("GET", button.dataset.text);
        box.textContent = data.text || "（本页没有识别出文字）";
        box.dataset.loaded = "1";
      } catch (err) {
        box.textContent = "";
        box.hidden = true;
        Archive.toast(err.message, "error");
        return;
      }
    }
    box.hidden = false;
    button.setAttribute("aria-expanded", "true");
  });

  // -- scans stored sideways: turned upright, sized from the page's upright proportions ----------
  const sideways = figures.filter((f) => f.dataset.rotation === "90" || f.dataset.rotation === "270");
  function fitSideways() {
    for (const figure of sideways) {
      const frame = figure.querySelector(".frame");
      const img = frame.querySelector("img");
      const uw = Number(figure.dataset.uprightWidth);
      const uh = Number(figure.dataset.uprightHeight);
      const shown = Math.min(frame.clientWidth, uw);
      const height = shown * uh / uw;
      frame.style.height = height + "px";
      img.style.width = height + "px"; // the stored image's width becomes the upright height
      img.style.height = shown + "px";
      frame.classList.add("fitted");
    }
  }
  if (sideways.length) {
    fitSideways();
    let pending = 0;
    window.addEventListener("resize", () => { cancelAnimationFrame(pending); pending = requestAnimationFrame(fitSideways); });
  }

  // -- the current page: highlighted in the strip, kept in the address --------------------------
  let current = Number(viewer.dataset.current) || 1;
  function mark(number, updateAddress) {
    if (number === current && !updateAddress) { return; }
    const old = thumbLinks.get(String(current));
    if (old) { old.removeAttribute("aria-current"); }
    current = number;
    const link = thumbLinks.get(String(number));
    if (link) {
      link.setAttribute("aria-current", "true");
      // Keep the strip's own scroll (vertical beside the pages, horizontal above them) on it.
      const strip = link.closest(".thumbs").getBoundingClientRect();
      const box = link.getBoundingClientRect();
      const list = link.closest(".thumbs");
      if (box.top < strip.top || box.bottom > strip.bottom) { list.scrollTop += box.top - strip.top - strip.height / 3; }
      if (box.left < strip.left || box.right > strip.right) { list.scrollLeft += box.left - strip.left - strip.width / 3; }
    }
    for (const f of figures) { f.classList.toggle("current", Number(f.dataset.page) === number); }
    if (updateAddress) { history.replaceState(null, "", "?page=" + number + "#page-" + number); }
  }
  if ("IntersectionObserver" in window && figures.length > 1) {
    const observer = new IntersectionObserver((entries) => {
      const seen = entries.filter((e) => e.isIntersecting).sort((a, b) => a.boundingClientRect.top - b.boundingClientRect.top);
      if (seen.length) { mark(Number(seen[0].target.dataset.page), true); }
    }, { rootMargin: "-30% 0px -60% 0px" });
    figures.forEach((f) => observer.observe(f));
  }

  function go(number) {
    const figure = document.getElementById("page-" + number);
    if (!figure) { return; }
    figure.scrollIntoView({ block: "start" });
    mark(number, true);
  }
  document.addEventListener("keydown", (event) => {
    if (Archive.typing(event) || event.ctrlKey || event.metaKey || event.altKey || (dialog && dialog.open)) { return; }
    if (event.key === "n") { go(Math.min(current + 1, figures.length)); }
    if (event.key === "p") { go(Math.max(current - 1, 1)); }
  });
  // Opened at a page without its anchor (or sideways pages changed the layout above it): go there.
  if (current > 1 && (location.hash !== "#page-" + current || sideways.length)) { go(current); }
})();

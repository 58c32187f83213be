// The search page: "/" returns to the search box; empty fields stay out of the (shareable) URL.
"use strict";
(function () {
  const form = document.getElementById("search-form");
  const box = document.getElementById("q");
  if (!form || !box) { return; }

  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && !Archive.typing(event) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });

  form.addEventListener("submit", (event) => {
    const from = form.elements.namedItem("year_from");
    const to = form.elements.namedItem("year_to");
    if (from && to && from.value && to.value && Number(from.value) > Number(to.value)) {
      event.preventDefault();
      Archive.toast("起始年度不能晚于截止年度", "error");
      from.focus();
      return;
    }
    // A new search starts from its first page; unset choices are left out of the address.
    for (const field of Array.from(form.elements)) {
      if (!field.name) { continue; }
      const empty = field.value === "" && (field.tagName === "SELECT" || field.type === "search");
      const defaultSort = field.name === "sort" && field.value === "relevance";
      if (empty || defaultSort) { field.disabled = true; }
    }
    setTimeout(() => { for (const field of Array.from(form.elements)) { field.disabled = false; } }, 0);
  });
})();

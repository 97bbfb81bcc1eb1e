/* Tables that scroll sideways on a narrow screen (CSS makes them scroll rather than overflow the page) become
 * keyboard-reachable regions named after their caption, so they can be scrolled without a mouse. */
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll("main table").forEach(function (table) {
      var scrolls = table.scrollWidth > table.clientWidth + 1 && getComputedStyle(table).display === "block";
      if (scrolls && !table.hasAttribute("tabindex")) {
        table.setAttribute("tabindex", "0");
        table.setAttribute("role", "region");
        var caption = table.querySelector("caption");
        table.setAttribute("aria-label", (caption ? caption.textContent.trim() + " " : "") + "(table, scrolls sideways)");
        table.dataset.scrollMarked = "1";
      } else if (!scrolls && table.dataset.scrollMarked) {
        table.removeAttribute("tabindex");
        table.removeAttribute("role");
        table.removeAttribute("aria-label");
        delete table.dataset.scrollMarked;
      }
    });
  }
  document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("resize", mark);
})();

/* Today: keep the page current without moving anything under the staff member's hands.
 *
 * Every few seconds, fetch the live block (/today/progress) and swap only the rows whose content changed:
 * each row carries data-version, a digest of what it shows. Rows keep their place (new ones are added at the
 * end, gone ones removed); keyboard focus, open "Stop messages" forms and typed text survive a swap. The
 * summary and the filter counts are updated in place. No framework, no inline script (the CSP forbids it).
 */
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box || !box.dataset.refreshUrl) { return; }
  var url = box.dataset.refreshUrl;
  var seconds = parseFloat(box.dataset.refreshSeconds || "3");
  var busy = false;
  var FOCUSABLE = "a[href], button, input, select, textarea, summary";

  function focusables(root) { return Array.prototype.slice.call(root.querySelectorAll(FOCUSABLE)); }

  function keepState(oldRow, newRow) {
    // Carry over what the person was doing in this row: open disclosures, typed text, ticked choices, focus.
    var oldDetails = oldRow.querySelectorAll("details"), newDetails = newRow.querySelectorAll("details");
    for (var i = 0; i < oldDetails.length && i < newDetails.length; i++) { newDetails[i].open = oldDetails[i].open; }
    var oldFields = oldRow.querySelectorAll("input, textarea, select"), newFields = newRow.querySelectorAll("input, textarea, select");
    for (var j = 0; j < oldFields.length && j < newFields.length; j++) {
      var a = oldFields[j], b = newFields[j];
      if (a.name !== b.name || a.type === "hidden") { continue; }
      if (a.type === "radio" || a.type === "checkbox") { b.checked = a.checked; } else { b.value = a.value; }
    }
    var active = document.activeElement;
    if (active && oldRow.contains(active)) {
      var index = focusables(oldRow).indexOf(active);
      return function () {
        var target = focusables(newRow)[index] || newRow.querySelector(FOCUSABLE);
        if (target) { target.focus({ preventScroll: true }); }
      };
    }
    return null;
  }

  function apply(fresh) {
    var summary = document.getElementById("today-summary"), newSummary = fresh.querySelector("#today-summary");
    if (summary && newSummary && summary.innerHTML !== newSummary.innerHTML) { summary.innerHTML = newSummary.innerHTML; }
    fresh.querySelectorAll(".filter-counts [data-filter-count]").forEach(function (count) {
      var shown = document.querySelector("nav.filters [data-filter-count='" + count.dataset.filterCount + "']");
      if (shown && shown.textContent !== count.textContent) { shown.textContent = count.textContent; }
    });
    var list = document.getElementById("families"), newList = fresh.querySelector("#families");
    if (!list || !newList) {
      // From no rows to some (or back): nothing to keep, swap the block unless it reads the same.
      var empty = document.getElementById("today-empty"), newEmpty = fresh.querySelector("#today-empty");
      if (!(empty && newEmpty && empty.textContent === newEmpty.textContent)) { box.innerHTML = fresh.innerHTML; }
      return;
    }
    var seen = {};
    Array.prototype.forEach.call(newList.children, function (newRow) {
      seen[newRow.id] = true;
      var oldRow = document.getElementById(newRow.id);
      if (!oldRow) { list.appendChild(document.importNode(newRow, true)); return; }
      if (oldRow.dataset.version === newRow.dataset.version) { return; }
      var row = document.importNode(newRow, true);
      var restoreFocus = keepState(oldRow, row);
      oldRow.replaceWith(row);
      if (restoreFocus) { restoreFocus(); }
    });
    Array.prototype.slice.call(list.children).forEach(function (row) {
      if (!seen[row.id] && !row.contains(document.activeElement)) { row.remove(); }
    });
  }

  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = document.createElement("div");
        fresh.innerHTML = html;
        apply(fresh);
      })
      .catch(function () { /* offline for a moment: try again next time */ })
      .then(function () { busy = false; });
  }

  window.setInterval(refresh, seconds * 1000);
})();

// Translation review: check each text's placeholders while the reviewer types (the server checks again on
// Approve). Every placeholder of the English text must stay; none may be added; a plural form may write its
// number out in words. A pause in typing also asks the server whether every text message that uses the text
// stays within the SMS length limit (nothing is stored).
(function () {
  "use strict";
  var PLACEHOLDER = /%\(\w+\)[sd]|\{\w+\}/g;
  var SMS_CHECK_DELAY_MS = 500;

  function found(text) {
    var seen = [];
    (text.match(PLACEHOLDER) || []).forEach(function (name) {
      if (seen.indexOf(name) < 0) { seen.push(name); }
    });
    return seen;
  }

  function words(text) { return text ? text.split(" ").filter(Boolean) : []; }

  function check(area, source, optional) {
    var note = document.getElementById(area.getAttribute("aria-describedby"));
    if (!note) { return; }
    var present = found(area.value);
    var missing = source.filter(function (name) { return present.indexOf(name) < 0 && optional.indexOf(name) < 0; });
    var unknown = present.filter(function (name) { return source.indexOf(name) < 0; });
    var problems = [];
    if (missing.length) { problems.push("Missing: " + missing.join(", ")); }
    if (unknown.length) { problems.push("Not in the English text: " + unknown.join(", ")); }
    note.textContent = problems.length ? problems.join(". ") + "." : (source.length ? "Placeholders OK." : "");
    note.classList.toggle("placeholder-problem", problems.length > 0);
  }

  function smsSummary(answer) {
    if (!answer.placeholders_ok) { return "The SMS length is checked once the placeholders are right."; }
    if (!answer.sms_checked) { return "No text message uses this text."; }
    if (answer.sms_problems.length) { return answer.sms_problems.join(" "); }
    return "Fits the SMS length limit in all " + answer.sms_checked + " text messages that use it.";
  }

  function checkSmsLength(form, note) {
    var asked = new FormData(form);
    note.setAttribute("data-asked", String(Date.now()));
    var stamp = note.getAttribute("data-asked");
    fetch(note.getAttribute("data-url"), {method: "POST", body: asked, credentials: "same-origin",
                                          headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer || note.getAttribute("data-asked") !== stamp) { return; }  // failed, or a newer check runs
        note.textContent = smsSummary(answer);
        note.classList.toggle("placeholder-problem", answer.sms_problems.length > 0);
      })
      .catch(function () { /* offline: Approve still checks */ });
  }

  document.querySelectorAll("form.translation-form").forEach(function (form) {
    var source = words(form.getAttribute("data-placeholders"));
    var optional = words(form.getAttribute("data-optional"));
    var smsNote = form.querySelector(".sms-check[data-url]");
    var timer = null;
    form.querySelectorAll("textarea").forEach(function (area) {
      area.addEventListener("input", function () {
        check(area, source, optional);
        if (smsNote) {
          window.clearTimeout(timer);
          timer = window.setTimeout(function () { checkSmsLength(form, smsNote); }, SMS_CHECK_DELAY_MS);
        }
      });
      check(area, source, optional);
    });
  });
})();

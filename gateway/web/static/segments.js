/* SMS segments shown as staff type (the Inbox's "Answer" box). Mirrors gateway/rendering/sms.py: GSM-7 carries
 * 160 septets in one segment and 153 per segment beyond (an extension character takes two); any other character
 * makes the whole text UCS-2: 70 UTF-16 units, then 67 per segment. Typographic look-alikes are counted as the
 * GSM characters the gateway turns them into. No inline script (the CSP forbids it), no framework.
 */
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "^{}\\[~]|€\f";
  var LOOKALIKES = { "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2026": "...", "\u00a0": " ", "\u200b": "" };

  function normalise(text) {
    return text.replace(/[\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0\u200b]/g, function (c) { return LOOKALIKES[c]; });
  }

  function count(text) {
    text = normalise(text);
    var gsm = true, septets = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      if (BASIC.indexOf(c) >= 0) { septets += 1; } else if (EXTENSION.indexOf(c) >= 0) { septets += 2; } else { gsm = false; break; }
    }
    if (gsm) { return { encoding: "GSM-7", segments: septets <= 160 ? 1 : Math.ceil(septets / 153), units: septets }; }
    var units = text.length;  /* UTF-16 code units, as SMS counts them */
    return { encoding: "UCS-2", segments: units <= 70 ? 1 : Math.ceil(units / 67), units: units };
  }

  function update(box) {
    var out = document.getElementById(box.getAttribute("data-segments"));
    if (!out) { return; }
    var parts = [box.value];
    var extra = box.form ? box.form.querySelector("textarea[name=translation]") : null;
    if (extra && extra !== box && extra.value) { parts.push(extra.value); }
    var result = count(parts.join("\n\n"));
    if (!box.value) { out.textContent = ""; return; }
    out.textContent = result.segments + " text message" + (result.segments === 1 ? "" : "s") + " (" + result.units +
      (result.encoding === "GSM-7" ? " characters" : " characters, other alphabet") + ")";
  }

  var boxes = document.querySelectorAll("textarea[data-segments]");
  for (var i = 0; i < boxes.length; i++) {
    (function (box) {
      box.addEventListener("input", function () { update(box); });
      var extra = box.form ? box.form.querySelector("textarea[name=translation]") : null;
      if (extra) { extra.addEventListener("input", function () { update(box); }); }
      update(box);
    })(boxes[i]);
  }
})();

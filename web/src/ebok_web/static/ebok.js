// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Copy buttons: <button type="button" data-copy="element-id" hidden>Kopiuj</button>
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    button.hidden = false;
    var label = button.textContent;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = "Skopiowano";
        setTimeout(function () { button.textContent = label; }, 2500);
      });
    });
  });
  // The error summary takes the focus, so a screen reader reads what to correct first.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }
  // Links inside the summary move to the field itself (and scroll its label into view).
  document.querySelectorAll(".error-summary__list a[href^='#']").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (!field) { return; }
      event.preventDefault();
      var label = document.querySelector("label[for='" + field.id + "']") || field;
      label.scrollIntoView();
      field.focus({ preventScroll: true });
    });
  });
})();

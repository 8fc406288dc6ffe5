/* The curator's keyboard: 1–9 choose a grade, R returns for revision, N skips to the
   next answer, Ctrl+Enter (or Cmd+Enter) sends the decision. In a text field the plain
   keys type text, so there Alt+key does the same, and Esc leaves the field.
   A static file: the CSP allows no inline script. */
(function () {
  "use strict";

  function isTextField(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" ||
      (tag === "INPUT" && !/^(radio|checkbox|button|submit|hidden)$/.test(el.type));
  }

  function choose(value) {
    var input = document.querySelector('#decision-form input[name="decision"][value="' + value + '"]');
    if (!input) return false;
    input.checked = true;
    input.focus();
    return true;
  }

  function submitForm(form) {
    if (!form) return;
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.submit();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("decision-form");
    var feedback = document.getElementById("feedback");
    var error = document.getElementById("review-error");
    if (feedback && !error) {
      feedback.focus();
      // Put the caret after any kept text.
      feedback.selectionStart = feedback.selectionEnd = feedback.value.length;
    } else if (feedback && error) {
      feedback.focus();
    }
    if (form) {
      // One decision per page: a second Enter while the first is on its way does nothing.
      form.addEventListener("submit", function (event) {
        if (form.dataset.sent === "1") { event.preventDefault(); return; }
        form.dataset.sent = "1";
      });
    }
  });

  document.addEventListener("keydown", function (event) {
    var form = document.getElementById("decision-form");
    var target = event.target;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      if (form) { event.preventDefault(); submitForm(form); }
      return;
    }
    if (event.key === "Escape" && isTextField(target)) {
      target.blur();
      if (form) form.focus({ preventScroll: true });
      return;
    }
    var inText = isTextField(target);
    if (event.ctrlKey || event.metaKey) return;
    if (inText && !event.altKey) return;
    if (!inText && event.altKey) return; // leave the browser's own Alt shortcuts alone
    var key = (event.key || "").toLowerCase();
    // With Alt some layouts report another character; the physical key still tells.
    if (event.altKey && event.code) {
      if (/^Digit[1-9]$/.test(event.code)) key = event.code.slice(5);
      else if (event.code === "KeyR") key = "r";
      else if (event.code === "KeyN") key = "n";
    }
    // Russian layout: R is "к", N is "т" on the same keys.
    if (key === "к") key = "r";
    if (key === "т") key = "n";
    if (/^[1-9]$/.test(key)) {
      if (choose(key)) event.preventDefault();
    } else if (key === "r") {
      if (choose("return")) event.preventDefault();
    } else if (key === "n") {
      var next = document.getElementById("next-form");
      if (next) { event.preventDefault(); submitForm(next); }
    }
  });
})();

// Progressive enhancement only: every form works without this file.
// The CSP forbids inline script, so page behaviour lives here.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Confirm dangerous actions marked with data-confirm.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // Prevent double submission: the server is idempotent anyway, this spares a round trip.
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", () => {
      setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; }), 0);
    });
  });
});

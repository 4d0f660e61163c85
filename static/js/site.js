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
  // KRW fields: say what the server will read ("2억 5천만" -> 250,000,000원) as the user types.
  // The server parses (portal/money.py); this only asks it, so there is one parser.
  document.querySelectorAll(".amount-echo[data-echo-for]").forEach((echo) => {
    const input = document.getElementById(echo.dataset.echoFor);
    if (!input) return;
    let timer = null;
    let asked = 0;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const text = input.value.trim();
        const mine = ++asked;
        if (!text) { echo.hidden = true; return; }
        try {
          const lang = document.documentElement.lang || "ko";
          const reply = await fetch(`/api/v1/amounts/krw?lang=${lang}&text=${encodeURIComponent(text)}`, { credentials: "same-origin" });
          if (mine !== asked) return;
          if (!reply.ok) { echo.hidden = true; return; }
          echo.textContent = (await reply.json()).echo;
          echo.hidden = false;
        } catch (error) {
          echo.hidden = true;  // offline: the server still checks the amount on submit
        }
      }, 250);
    });
  });
  // Prevent double submission: the server is idempotent anyway, this spares a round trip.
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", () => {
      setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; }), 0);
    });
  });
});

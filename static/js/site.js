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
  // The district map: say the focused or pointed-at district's figures under the map (they are also in
  // each link's name, its tooltip and the table below; this is for sighted keyboard users).
  document.querySelectorAll("svg[data-map-readout]").forEach((svg) => {
    const readout = document.getElementById(svg.dataset.mapReadout);
    if (!readout) return;
    svg.querySelectorAll("a[data-note]").forEach((link) => {
      const show = () => { readout.textContent = link.dataset.note; };
      link.addEventListener("focus", show);
      link.addEventListener("mouseenter", show);
    });
  });
  // Neighbourhood lists: show only the chosen pot's district (all of them for the city-wide pot).
  document.querySelectorAll("select[data-dong-for]").forEach((dongs) => {
    const pot = document.getElementById(dongs.dataset.dongFor);
    if (!pot) return;
    const update = () => {
      const option = pot.options[pot.selectedIndex];
      const district = option ? option.dataset.district : "";
      dongs.querySelectorAll("optgroup").forEach((group) => {
        const shown = !district || group.dataset.district === district;
        group.hidden = !shown;
        group.disabled = !shown;
      });
      const chosen = dongs.options[dongs.selectedIndex];
      if (chosen && chosen.parentElement.disabled) dongs.value = "";
    };
    pot.addEventListener("change", update);
    update();
  });
  // Prevent double submission: the server is idempotent anyway, this spares a round trip.
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", () => {
      setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; }), 0);
    });
  });
});

// AI 50 Challenge page helpers: live weighted total on the scoring form, confirm before withdrawing,
// and a friendly size check before uploading (the server checks again).
(function () {
  "use strict";
  function updateTotal(form) {
    var inputs = form.querySelectorAll("input[data-weight]");
    var sum = 0, weights = 0, complete = true;
    inputs.forEach(function (input) {
      var w = parseInt(input.dataset.weight, 10), v = parseInt(input.value, 10);
      weights += w;
      if (isNaN(v) || v < 1 || v > 10) { complete = false; } else { sum += w * v; }
    });
    var out = document.getElementById("weighted-total");
    if (out) { out.textContent = complete && weights ? (sum / weights).toFixed(2) : "–"; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("score-form");
    if (form) { form.addEventListener("input", function () { updateTotal(form); }); }
    document.querySelectorAll("[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.dataset.confirm)) { event.preventDefault(); }
      });
    });
    document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
      input.addEventListener("change", function () {
        var max = parseInt(input.dataset.maxBytes, 10);
        if (input.files.length && input.files[0].size > max) {
          input.setCustomValidity(input.dataset.tooLarge);  // translated by the page
          input.reportValidity();
        } else { input.setCustomValidity(""); }
      });
    });
  });
})();

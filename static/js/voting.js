// Ballot helper: shows the running total against the cap, or the points left.
// The page works without this file; the server checks every ballot anyway.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.ballot");
  if (!form) return;
  const kind = form.dataset.kind;
  const cap = Number(form.dataset.cap || 0);
  const totalPoints = Number(form.dataset.totalPoints || 0);
  const maxProjects = Number(form.dataset.maxProjects || 0);
  const korean = form.dataset.lang === "ko";
  const out = document.getElementById("running-total");
  const meter = document.getElementById("running-meter");
  // Korean amounts as the page writes them (portal/money.py, korean_krw): exact below 1억
  // ("456만 7,800원"), from 1억 up in 조/억/만 rounded to the nearest 만 won; English exact.
  const koreanWon = (n) => {
    const sign = n < 0 ? "-" : "";
    const size = Math.abs(n);
    if (size < 1e4) return `${n.toLocaleString("ko-KR")}원`;
    if (size < 1e8) {
      const man = Math.floor(size / 1e4);
      const rest = size % 1e4;
      return rest ? `${sign}${man.toLocaleString("ko-KR")}만 ${rest.toLocaleString("ko-KR")}원` : `${sign}${man.toLocaleString("ko-KR")}만 원`;
    }
    let man = Math.floor((size + 5000) / 1e4);
    const parts = [];
    for (const [unit, step] of [["조", 1e8], ["억", 1e4], ["만", 1]]) {
      const count = Math.floor(man / step);
      man -= count * step;
      if (count) parts.push(`${count.toLocaleString("ko-KR")}${unit}`);
    }
    return `${sign}${parts.join(" ")} 원`;
  };
  const won = (n) => (korean ? koreanWon(n) : `${n.toLocaleString("en-US")} KRW`);

  function update() {
    let text;
    let value;
    let over = false;
    if (kind === "cumulative") {
      let used = 0;
      form.querySelectorAll("input.points").forEach((input) => { used += Math.max(0, Number(input.value || 0)); });
      value = used;
      over = used > totalPoints;
      text = korean ? `남은 점수: ${totalPoints - used} / ${totalPoints}` : `Points left: ${totalPoints - used} of ${totalPoints}`;
    } else {
      let spent = 0;
      let count = 0;
      form.querySelectorAll("input[name=project_ids]:checked").forEach((input) => { spent += Number(input.dataset.cost || 0); count += 1; });
      value = spent;
      if (kind === "knapsack") {
        over = spent > cap;
        text = korean ? `선택한 사업 합계: ${won(spent)} / 예산 ${won(cap)} (남은 금액 ${won(cap - spent)})`
                      : `Selected: ${won(spent)} of ${won(cap)} (${won(cap - spent)} left)`;
      } else {
        over = maxProjects > 0 && count > maxProjects;
        text = korean ? `선택한 사업: ${count}개${maxProjects ? ` / 최대 ${maxProjects}개` : ""}`
                      : `Projects chosen: ${count}${maxProjects ? ` of at most ${maxProjects}` : ""}`;
      }
    }
    out.textContent = text + (over ? (korean ? " — 한도를 넘었습니다" : " — over the limit") : "");
    out.classList.toggle("error", over);
    out.hidden = false;
    if (meter && kind !== "approval") {
      meter.value = Math.min(value, Number(meter.max));
      meter.hidden = false;
    }
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
});

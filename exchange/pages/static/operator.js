// The shelter operator's page, live: −/+ change the count at once (Save still saves). The
// page listens on /ws/shelter (signed in by the session cookie), the channel her agent
// uses: every offer, closed offer or pickup it pushes brings the counts and offers again
// from /shelter/live, and so does `beds_changed`, which only a page is sent, when counts
// are reported elsewhere (the agent, another phone). A slow refresh, and showing the page
// again, are the safety net; without the channel the page polls. Without this script every
// button is a plain form.
"use strict";
(() => {
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const t = (m, values = {}) => (messages[m] || m).replace(/\{(\w+)\}/g, (_, k) => String(values[k]));
  const form = document.getElementById("counts");
  const unsaved = document.getElementById("unsaved");
  const list = document.getElementById("offer-list");
  const ageNode = document.getElementById("age");
  const notice = document.getElementById("notice");
  let dirty = false;

  form.addEventListener("click", (event) => {
    const button = event.target.closest("button.step");
    if (!button) return;
    event.preventDefault();
    const [bed, field, by] = button.value.split(".");
    const input = form.elements.namedItem(`${bed}.${field}`);
    const now = parseInt(input.value, 10);
    input.value = String(Math.max(0, (Number.isNaN(now) ? 0 : now) + parseInt(by, 10)));
    markDirty();
  });
  form.addEventListener("input", markDirty);

  function markDirty() {
    dirty = true;
    unsaved.textContent = t("Not saved yet: tap Save.");
  }

  function ago(iso) {
    if (!iso) return ageNode.textContent;
    const minutes = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000));
    return minutes < 120 ? t("Last report {minutes} min ago", { minutes })
      : t("Last report {hours} h ago", { hours: Math.floor(minutes / 60) });
  }

  let lastOffers = null;
  let known = new Set([...list.querySelectorAll("[data-offer]")].map((n) => n.dataset.offer));
  async function refresh() {
    let state;
    try {
      const r = await fetch("/shelter/live", { credentials: "same-origin", cache: "no-store" });
      if (r.status === 401 || r.status === 403) { location.reload(); return; }
      if (!r.ok) return;
      state = await r.json();
    } catch (_) { return; }
    ageNode.dataset.reportedAt = state.reported_at || "";
    ageNode.textContent = ago(state.reported_at);
    const after = form.elements.namedItem("after");
    if (!dirty && String(state.last_seq) !== after.value) {
      // Reported elsewhere (the agent, another phone): show the counts now in force.
      after.value = String(state.last_seq);
      for (const [bed, b] of Object.entries(state.beds)) {
        for (const field of ["total", "occupied", "out_of_service"]) {
          const input = form.elements.namedItem(`${bed}.${field}`);
          if (input && document.activeElement !== input) input.value = String(b[field]);
        }
      }
    }
    for (const [bed, b] of Object.entries(state.beds)) {
      const free = form.querySelector(`fieldset[data-bed="${bed}"] .free-count`);
      if (free) free.textContent = String(b.available);
    }
    // Replace the offers only when they changed and focus is not inside them.
    const changed = lastOffers === null
      ? state.offer_ids.join() !== [...known].join()
      : state.offers !== lastOffers;
    if (changed && !list.contains(document.activeElement)) {
      list.innerHTML = state.offers;
      lastOffers = state.offers;
      const fresh = state.offer_ids.filter((id) => !known.has(id));
      if (fresh.length) notice.replaceChildren(Object.assign(document.createElement("p"), { textContent: t("A new offer arrived.") }));
      known = new Set(state.offer_ids);
    } else if (lastOffers === null && !changed) {
      lastOffers = state.offers;
    }
  }
  // The age of the last report moves with the clock, not only with messages.
  setInterval(() => { ageNode.textContent = ago(ageNode.dataset.reportedAt); }, 30000);

  let pending = false;
  function changed() {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; refresh(); }, 200);
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) changed(); });

  let poll = null, backoff = 500, failures = 0;
  function polling(every) {
    if (poll !== null) clearInterval(poll);
    poll = setInterval(refresh, every);
  }
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${proto}//${location.host}/ws/shelter`);
    socket.onopen = () => { backoff = 500; failures = 0; polling(60000); };
    // Only listens: reports and decisions go through the page's forms.
    socket.onmessage = () => changed();
    socket.onclose = async (event) => {
      failures += 1;
      if (failures >= 2) polling(4000);
      if (event.code === 4401 || failures >= 3) {
        // Revoked, or refused at the handshake: if the session is gone, show the sign-in form.
        try {
          const r = await fetch("/shelter/live", { credentials: "same-origin", cache: "no-store" });
          if (r.status === 401 || r.status === 403) { location.reload(); return; }
        } catch (_) { /* offline: keep trying */ }
      }
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }
  if ("WebSocket" in window) connect(); else polling(4000);
})();

// The planner's page, live: /ws/planner (signed in by the session cookie) says when one of
// the agency's requests changed, and the list and the release-day board are then fetched
// again from /planner/live (an audited read, made only on a change). Without the channel
// the page polls /planner/live, which re-reads only when the version moved. Pickup times
// are typed in this computer's time zone. Contact tokens are made here with Web Crypto:
// the passphrase and the identity never leave this page (their inputs have no name and
// sit in no form).
"use strict";
(() => {
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const t = (m, values = {}) => (messages[m] || m).replace(/\{(\w+)\}/g, (_, k) => String(values[k]));
  const OFFLINE = "Not connected to Haven: this page may be out of date. Reconnecting…";
  const DEGRADED = "Haven cannot reach its database right now: this page may be out of date.";
  const main = document.querySelector("main.planner");
  const list = document.getElementById("request-list");
  const board = document.getElementById("readiness");
  const offline = document.getElementById("offline");
  let version = main.dataset.version;
  let seq = parseInt(main.dataset.seq, 10) || 0;

  function say(node, text) {
    if (node.textContent === text) return;
    node.replaceChildren(...(text ? [Object.assign(document.createElement("p"), { textContent: text })] : []));
  }

  // -- pickup times, in this computer's zone ---------------------------------------------
  const pad = (n) => String(n).padStart(2, "0");
  function zone(minutes) {
    const sign = minutes < 0 ? "−" : "+";
    const a = Math.abs(minutes);
    return `${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
  }
  function localize(root) {
    for (const form of root.querySelectorAll('form[action$="/pickup"]')) {
      const date = form.elements.namedItem("date"), time = form.elements.namedItem("time");
      if (form.dataset.at && !form.dataset.localized) {
        const at = new Date(form.dataset.at);
        if (!Number.isNaN(at.getTime())) {
          date.value = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
          time.value = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
        }
      }
      form.dataset.localized = "1";
      const hint = form.querySelector('[id$="-time-zone"]');
      if (hint) hint.textContent = t("your computer’s time (UTC{offset})", { offset: zone(-new Date().getTimezoneOffset()) });
    }
  }
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches || !form.matches('form[action$="/pickup"]')) return;
    const date = form.elements.namedItem("date").value, time = form.elements.namedItem("time").value;
    const when = new Date(`${date}T${time || "00:00"}`);
    const minutes = -(Number.isNaN(when.getTime()) ? new Date() : when).getTimezoneOffset();
    form.elements.namedItem("offset").value = String(minutes);
  });
  localize(board);

  // -- live ------------------------------------------------------------------------------
  // A part is replaced only while she is not working in it: focus inside, or a pickup
  // form open, keeps it until she is done.
  const waiting = new Map();
  function busy(node) {
    return node.contains(document.activeElement) || node.querySelector("details[open]") !== null;
  }
  function put(node, html) {
    if (busy(node)) { waiting.set(node, html); return; }
    waiting.delete(node);
    node.innerHTML = html;
    localize(node);
  }
  setInterval(() => { for (const [node, html] of waiting) put(node, html); }, 1000);

  async function refresh(changed) {
    try {
      const r = await fetch(`/planner/live?v=${encodeURIComponent(version)}${changed ? "&changed=1" : ""}`,
        { credentials: "same-origin", cache: "no-store" });
      if (r.status === 401 || r.status === 403) { location.reload(); return; }
      if (!r.ok) return;
      const state = await r.json();
      version = state.version;
      if (state.html !== null) put(list, state.html);
      if (state.board) put(board, state.board);
    } catch (_) { /* offline: the channel's reconnect brings the page up to date */ }
  }

  let pending = false;
  function changed() {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; refresh(true); }, 250);
  }

  let poll = null, backoff = 500, failures = 0, degraded = false;
  function polling(on) {
    if (on && poll === null) poll = setInterval(() => refresh(false), 5000);
    if (!on && poll !== null) { clearInterval(poll); poll = null; }
  }
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${proto}//${location.host}/ws/planner?since=${seq}`);
    socket.onopen = () => {
      backoff = 500; failures = 0; polling(false);
      say(offline, degraded ? t(DEGRADED) : "");
    };
    socket.onmessage = (event) => {
      let m;
      try { m = JSON.parse(event.data); } catch (_) { return; }
      if (m.type === "status") { degraded = Boolean(m.degraded); say(offline, degraded ? t(DEGRADED) : ""); return; }
      if (typeof m.seq === "number") seq = Math.max(seq, m.seq);
      if (m.type === "snapshot" || m.type === "request" || m.type === "removed") changed();
    };
    socket.onclose = async (event) => {
      failures += 1;
      if (failures >= 2) { say(offline, t(OFFLINE)); polling(true); }
      if (event.code === 4401 || failures >= 3) {
        // Revoked, or refused at the handshake: if the session is gone, show the sign-in form.
        try {
          const r = await fetch(`/planner/live?v=${encodeURIComponent(version)}`, { credentials: "same-origin", cache: "no-store" });
          if (r.status === 401 || r.status === 403) { location.reload(); return; }
        } catch (_) { /* offline: keep trying */ }
      }
      // Whatever changed while the channel was down: the resume (since) brings it.
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }
  if ("WebSocket" in window) connect(); else polling(true);

  // -- contact tokens --------------------------------------------------------------------
  const derive = document.getElementById("derive");
  const key = document.getElementById("derive-key");
  const who = document.getElementById("derive-who");
  const out = document.getElementById("derive-out");
  const add = document.getElementById("derive-add");
  const status = document.getElementById("derive-status");
  const contacts = document.getElementById("f-contacts");
  derive.hidden = false;
  const subtle = window.crypto && window.crypto.subtle;

  function base64url(bytes) {
    let s = "";
    for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  const normal = (text) => text.trim().toLowerCase().replace(/\s+/g, " ");

  document.getElementById("derive-make").addEventListener("click", async () => {
    if (!subtle) { status.textContent = t("Your browser cannot make tokens here: it needs a secure (https) page."); return; }
    if (!key.value || !normal(who.value)) { status.textContent = t("Enter the passphrase and the person's identity first."); return; }
    const enc = new TextEncoder();
    const k = await subtle.importKey("raw", enc.encode(key.value), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    out.value = base64url(await subtle.sign("HMAC", k, enc.encode(normal(who.value))));
    add.disabled = false;
    status.textContent = t("Token made. It is not sent anywhere until you add it and send the request.");
  });
  add.addEventListener("click", () => {
    if (!out.value) return;
    const lines = contacts.value.split(/\s+/).filter(Boolean);
    if (!lines.includes(out.value)) lines.push(out.value);
    contacts.value = lines.join("\n");
    const more = contacts.closest("details");
    if (more) more.open = true;
    who.value = ""; out.value = ""; add.disabled = true;
    status.textContent = t("Added to contacts.");
  });
})();

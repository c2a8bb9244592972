// The planner's page, live: the list follows /planner/live (re-read, and audited, only when
// it changed), and contact tokens are made here with Web Crypto. The passphrase and the
// identity never leave this page: their inputs have no name and sit in no form.
"use strict";
(() => {
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const t = (m) => messages[m] || m;
  const main = document.querySelector("main.planner");
  const list = document.getElementById("request-list");
  let version = main.dataset.version;

  async function refresh() {
    try {
      const r = await fetch(`/planner/live?v=${encodeURIComponent(version)}`, { credentials: "same-origin", cache: "no-store" });
      if (r.status === 401 || r.status === 403) { location.reload(); return; }
      if (!r.ok) return;
      const state = await r.json();
      version = state.version;
      if (state.html !== null && !list.contains(document.activeElement)) list.innerHTML = state.html;
    } catch (_) { /* offline: try again later */ }
  }
  setInterval(refresh, 3000);

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

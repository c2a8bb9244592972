// Keeps the regional dashboard live over /ws/dashboard. Plain JavaScript, no build step.
// Renders the same markup as exchange/pages/dashboard.py (render_region), and changes the
// page in place: a region whose shape (suppressed, unknown, its bed types) is unchanged only
// has its numbers and bars updated, so focus and a screen reader's place survive updates.
// Resumes with ?since=<last seq> after a drop; while disconnected, or while the server says
// its numbers may be stale, the numbers are dimmed and the #degraded alert says why.
"use strict";
(() => {
  const BAR_W = 160, BAR_H = 14;
  const SVG = "http://www.w3.org/2000/svg";
  const initial = JSON.parse(document.getElementById("initial").textContent);
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const bedNames = JSON.parse(document.getElementById("bed-names").textContent);
  const t = (m, values = {}) => (messages[m] || m).replace(/\{(\w+)\}/g, (_, k) => String(values[k]));
  const DEGRADED = "Numbers may be out of date: Haven cannot reach its database right now.";
  const OFFLINE = "Not connected to Haven: these numbers may be out of date. Reconnecting…";
  const regions = new Map(initial.regions.map((r) => [r.region, r]));
  let seq = initial.seq;
  const main = document.getElementById("regions");
  const list = main.querySelector(".region-list");
  const link = document.getElementById("link");
  const updated = document.getElementById("updated");
  const degraded = document.getElementById("degraded");
  let serverDegraded = degraded.childElementCount > 0, offline = false;

  function showAlert() {
    // The alert region stays in the page; filling it is what screen readers announce.
    const text = offline ? t(OFFLINE) : serverDegraded ? t(DEGRADED) : "";
    const now = degraded.textContent;
    if (text && now !== text) degraded.replaceChildren(el("p", {}, text));
    else if (!text && now) degraded.replaceChildren();
    main.classList.toggle("dimmed", Boolean(text));
  }

  function ago(asOf) {
    if (!asOf) return t("no current reports");
    const minutes = Math.max(0, Math.floor((Date.now() - Date.parse(asOf)) / 60000));
    return minutes < 120 ? t("updated {minutes} min ago", { minutes }) : t("updated {hours} h ago", { hours: Math.floor(minutes / 60) });
  }

  function el(tag, attrs = {}, text = null, ns = null) {
    const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== null) node.textContent = String(text);
    return node;
  }

  function setText(node, text) { if (node.textContent !== String(text)) node.textContent = String(text); }
  function setAttr(node, name, value) { if (node.getAttribute(name) !== String(value)) node.setAttribute(name, String(value)); }

  function scales() {
    const top = {};
    for (const r of regions.values()) for (const [bed, b] of Object.entries(r.beds || {})) top[bed] = Math.max(top[bed] || 0, b.total);
    return top;
  }

  const reporting = (r) => r.shelters - r.stale;
  const unknown = (r) => reporting(r) <= 0 || !r.beds || Object.keys(r.beds).length === 0;
  function shape(r) {
    if (r.suppressed) return "suppressed";
    const demand = r.demand ? "demand;" : "";
    if (unknown(r)) return `${demand}unknown`;
    return demand + Object.keys(r.beds).sort().join(",");
  }

  const count = (n) => (n === null || n === undefined ? t("a few") : String(n));
  function demandText(d) {
    return t("Women waiting for a bed: {waiting} · offered: {offered} · accepted: {accepted}",
      { waiting: count(d.open), offered: count(d.offered), accepted: count(d.accepted) });
  }

  function widths(b, top) {
    const scale = Math.max(top || b.total, 1);
    return [b.total ? Math.max(2, Math.round(BAR_W * b.total / scale)) : 0, Math.round(BAR_W * b.available / scale)];
  }

  function bar(b, top) {
    const [wt, wa] = widths(b, top);
    const svg = el("svg", { class: "bar", width: BAR_W + 2, height: BAR_H + 2, viewBox: `0 0 ${BAR_W + 2} ${BAR_H + 2}`, role: "img",
      "aria-label": t("{available} available of {total}", b) }, null, SVG);
    svg.append(el("rect", { class: "total", x: 1, y: 1, width: wt, height: BAR_H }, null, SVG));
    svg.append(el("rect", { class: "available", x: 1, y: 1, width: wa, height: BAR_H }, null, SVG));
    return svg;
  }

  function build(r, top) {
    const key = r.region;
    const section = el("section", { class: r.suppressed ? "suppressed" : "region", "data-region": key, "aria-labelledby": `r-${key}` });
    section.append(el("h2", { id: `r-${key}` }, key));
    if (r.suppressed) {
      section.append(el("p", { class: "note" }, t("Hidden: too few shelters report here to show numbers without singling one out.")));
      return section;
    }
    const meta = el("p", { class: "meta" });
    meta.append(el("span", { class: "reporting" }, t("{n} of {m} shelters reporting", { n: reporting(r), m: r.shelters })), " · ",
      el("span", { class: "ago", "data-as-of": r.as_of || "" }, ago(r.as_of)));
    section.append(meta);
    if (r.demand) section.append(el("p", { class: "demand" }, demandText(r.demand)));
    if (unknown(r)) {
      section.append(el("p", { class: "unknown" }, t("No shelter here has reported recently: availability is unknown, not zero.")));
      return section;
    }
    const table = el("table", { class: "beds" });
    table.append(el("caption", { class: "visually-hidden" }, t("Beds in {region}", { region: key })));
    const head = el("tr");
    head.append(el("th", { scope: "col" }, t("Bed type")), el("th", { scope: "col", class: "num" }, t("Available")),
      el("th", { scope: "col", class: "num" }, t("Total")));
    const chartHead = el("th", { scope: "col" });
    chartHead.append(el("span", { class: "visually-hidden" }, t("Available and total, on one scale per bed type")));
    head.append(chartHead);
    const thead = el("thead"); thead.append(head);
    const tbody = el("tbody");
    for (const bed of Object.keys(r.beds).sort()) {
      const b = r.beds[bed];
      const tr = el("tr", { "data-bed": bed });
      tr.append(el("th", { scope: "row" }, bedNames[bed] || bed),
        el("td", { class: "available", "data-region": key, "data-bed": bed }, b.available),
        el("td", { class: "total", "data-region": key, "data-bed": bed }, b.total));
      const cell = el("td", { class: "chart" }); cell.append(bar(b, top[bed])); tr.append(cell);
      tbody.append(tr);
    }
    table.append(thead, tbody);
    section.append(table);
    return section;
  }

  function update(section, r, top) {
    if (r.suppressed) return;
    setText(section.querySelector(".reporting"), t("{n} of {m} shelters reporting", { n: reporting(r), m: r.shelters }));
    const when = section.querySelector(".ago");
    setAttr(when, "data-as-of", r.as_of || "");
    setText(when, ago(r.as_of));
    if (r.demand) setText(section.querySelector(".demand"), demandText(r.demand));
    if (unknown(r)) return;
    for (const [bed, b] of Object.entries(r.beds)) {
      const row = section.querySelector(`tr[data-bed="${CSS.escape(bed)}"]`);
      setText(row.querySelector("td.available"), b.available);
      setText(row.querySelector("td.total"), b.total);
      const [wt, wa] = widths(b, top[bed]);
      const svg = row.querySelector("svg.bar");
      setAttr(svg, "aria-label", t("{available} available of {total}", b));
      setAttr(svg.querySelector("rect.total"), "width", wt);
      setAttr(svg.querySelector("rect.available"), "width", wa);
    }
  }

  function render() {
    const top = scales();
    const sorted = [...regions.values()].sort((a, b) => (a.region < b.region ? -1 : a.region > b.region ? 1 : 0));
    const keep = new Set(sorted.map((r) => r.region));
    for (const node of [...list.children]) if (!keep.has(node.dataset.region)) node.remove();
    let previous = null;
    for (const r of sorted) {
      let section = list.querySelector(`section[data-region="${CSS.escape(r.region)}"]`);
      if (section && section.dataset.shape === shape(r)) {
        update(section, r, top);
      } else {
        const fresh = build(r, top);
        fresh.dataset.shape = shape(r);
        if (section) section.replaceWith(fresh); else list.insertBefore(fresh, previous ? previous.nextSibling : list.firstChild);
        section = fresh;
      }
      previous = section;
    }
    const newest = sorted.map((r) => r.as_of).filter(Boolean).sort().pop() || "";
    setAttr(updated, "data-as-of", newest);
    refreshAgo();
  }

  function refreshAgo() {
    for (const node of document.querySelectorAll("[data-as-of]")) setText(node, ago(node.getAttribute("data-as-of")));
  }

  // The server rendered the same markup: remember each section's shape.
  for (const section of list.children) {
    const r = regions.get(section.dataset.region);
    if (r) section.dataset.shape = shape(r);
  }

  let pending = false;
  function schedule() {
    if (!pending) {
      pending = true;
      setTimeout(() => { pending = false; render(); }, 250);
    }
  }

  let backoff = 500, failures = 0;
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${proto}//${location.host}/ws/dashboard?since=${seq}`);
    socket.onopen = () => { setText(link, t("live")); backoff = 500; failures = 0; offline = false; showAlert(); };
    socket.onmessage = (event) => {
      const m = JSON.parse(event.data);
      if (m.type === "snapshot") {
        regions.clear();
        for (const r of m.regions) regions.set(r.region, r);
      } else if (m.type === "update") {
        regions.set(m.region.region, m.region);
      } else if (m.type === "status") {
        serverDegraded = Boolean(m.degraded);
        showAlert();
        return;
      } else {
        return;
      }
      seq = m.seq;
      schedule();
    };
    socket.onclose = async (event) => {
      setText(link, t("reconnecting…"));
      failures += 1;
      if (failures >= 2) { offline = true; showAlert(); }
      if (event.code === 4401 || failures >= 3) {
        // Revoked, or refused at the handshake: if the session is gone, show the sign-in form.
        try {
          const r = await fetch("/api/regions", { credentials: "same-origin" });
          if (r.status === 401 || r.status === 403) { location.reload(); return; }
        } catch (_) { /* offline: keep trying */ }
      }
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  setInterval(refreshAgo, 15000);
  connect();
})();

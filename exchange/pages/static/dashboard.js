// Keeps the regional dashboard live over /ws/dashboard. Plain JavaScript, no build step.
// Renders the same markup as exchange/pages/dashboard.py; resumes with ?since=<last seq> after
// a drop; says so in the #degraded alert while the server reports its numbers may be stale.
"use strict";
(() => {
  const BAR_W = 360, ROW_H = 22, LABEL_W = 150;
  const SVG = "http://www.w3.org/2000/svg";
  const initial = JSON.parse(document.getElementById("initial").textContent);
  const regions = new Map(initial.regions.map((r) => [r.region, r]));
  let seq = initial.seq;
  const main = document.getElementById("regions");
  const link = document.getElementById("link");
  const updated = document.getElementById("updated");
  const degraded = document.getElementById("degraded");
  const DEGRADED = "Numbers may be out of date: Haven cannot reach its database right now.";

  function showDegraded(on) {
    // The alert region stays in the page; filling it is what screen readers announce.
    if (on && degraded.childElementCount === 0) degraded.append(el("p", {}, DEGRADED));
    else if (!on) degraded.replaceChildren();
  }

  function ago(asOf) {
    if (!asOf) return "no current reports";
    const minutes = Math.max(0, Math.floor((Date.now() - Date.parse(asOf)) / 60000));
    return minutes < 120 ? `updated ${minutes} min ago` : `updated ${Math.floor(minutes / 60)} h ago`;
  }

  function el(tag, attrs = {}, text = null, ns = null) {
    const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== null) node.textContent = String(text);
    return node;
  }

  function rows(list) {
    const out = [];
    for (const r of list) {
      if (r.suppressed || !r.beds || Object.keys(r.beds).length === 0) out.push([r, null]);
      else for (const bed of Object.keys(r.beds)) out.push([r, bed]);
    }
    return out;
  }

  function chart(list) {
    const all = rows(list);
    let top = 0;
    for (const r of list) for (const b of Object.values(r.beds || {})) top = Math.max(top, b.total);
    top = top || 1;
    const width = LABEL_W + BAR_W + 90, height = Math.max(1, all.length) * ROW_H;
    const svg = el("svg", { id: "chart", role: "img", "aria-labelledby": "chart-title", width, height,
      viewBox: `0 0 ${width} ${height}` }, null, SVG);
    svg.append(el("title", { id: "chart-title" },
      "Available and total beds by region and bed type; the table has the same numbers", SVG));
    all.forEach(([r, bed], i) => {
      const y = i * ROW_H;
      svg.append(el("text", { class: "label", x: 0, y: y + 15 }, bed === null ? r.region : `${r.region} ${bed}`, SVG));
      if (bed === null) {
        svg.append(el("text", { class: "note", x: LABEL_W, y: y + 15 }, r.suppressed ? "suppressed" : "no beds", SVG));
        return;
      }
      const b = r.beds[bed];
      const wt = Math.round(BAR_W * b.total / top), wa = Math.round(BAR_W * b.available / top);
      svg.append(el("rect", { class: "total", x: LABEL_W, y: y + 3, width: wt, height: ROW_H - 6 }, null, SVG));
      svg.append(el("rect", { class: "available", x: LABEL_W, y: y + 3, width: wa, height: ROW_H - 6 }, null, SVG));
      svg.append(el("text", { class: "value", x: LABEL_W + wt + 6, y: y + 15 }, `${b.available} / ${b.total}`, SVG));
    });
    const figure = el("figure", { class: "chart" });
    figure.append(svg);
    return figure;
  }

  function table(list) {
    const t = el("table", { id: "table" });
    t.append(el("caption", {}, "Beds by region, from shelters with a current report (the beds of stale shelters are not counted)."));
    const head = el("tr");
    for (const h of ["Region", "Bed type", "Available", "Total", "Shelters", "Stale", "Updated"]) {
      head.append(el("th", { scope: "col" }, h));
    }
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const [r, bed] of rows(list)) {
      const tr = el("tr", { "data-region": r.region });
      tr.append(el("th", { scope: "row" }, r.region));
      if (r.suppressed) {
        tr.setAttribute("class", "suppressed");
        tr.append(el("td", { colspan: 6 }, "suppressed: too few current shelters to show"));
        tbody.append(tr);
        continue;
      }
      if (bed === null) {
        tr.append(el("td", { colspan: 3 }, "no beds"));
      } else {
        const b = r.beds[bed];
        tr.append(el("td", {}, bed));
        tr.append(el("td", { class: "available", "data-region": r.region, "data-bed": bed }, b.available));
        tr.append(el("td", { class: "total", "data-region": r.region, "data-bed": bed }, b.total));
      }
      tr.append(el("td", { class: "shelters" }, r.shelters));
      tr.append(el("td", r.stale ? { class: "stale" } : {}, r.stale));
      tr.append(el("td", { class: "ago", "data-as-of": r.as_of || "" }, ago(r.as_of)));
      tbody.append(tr);
    }
    t.append(thead, tbody);
    return t;
  }

  function render() {
    const list = [...regions.values()].sort((a, b) => (a.region < b.region ? -1 : a.region > b.region ? 1 : 0));
    main.replaceChildren(chart(list), table(list));
    const newest = list.map((r) => r.as_of).filter(Boolean).sort().pop() || "";
    updated.setAttribute("data-as-of", newest);
    refreshAgo();
  }

  function refreshAgo() {
    for (const node of document.querySelectorAll("[data-as-of]")) node.textContent = ago(node.getAttribute("data-as-of"));
  }

  let pending = false;
  function schedule() {
    if (!pending) {
      pending = true;
      setTimeout(() => { pending = false; render(); }, 30);
    }
  }

  let backoff = 500, failures = 0;
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${proto}//${location.host}/ws/dashboard?since=${seq}`);
    socket.onopen = () => { link.textContent = "live"; backoff = 500; failures = 0; showDegraded(false); };
    socket.onmessage = (event) => {
      const m = JSON.parse(event.data);
      if (m.type === "snapshot") {
        regions.clear();
        for (const r of m.regions) regions.set(r.region, r);
      } else if (m.type === "update") {
        regions.set(m.region.region, m.region);
      } else if (m.type === "status") {
        showDegraded(m.degraded);
        return;
      } else {
        return;
      }
      seq = m.seq;
      schedule();
    };
    socket.onclose = async (event) => {
      link.textContent = "reconnecting…";
      failures += 1;
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

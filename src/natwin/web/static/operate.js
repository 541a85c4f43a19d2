/* natwin web app, "Operation" tab: the operating plant's monthly dashboard (issue 16).
 *
 * Kept apart from app.js: it reads GET /api/operate/plants and GET /api/operate/plants/{plant}/{month}
 * (natwin.web.operate) and draws design vs actual, drift alerts, carbon by scope with the park
 * indicator, and the lots' footprints. Every text from the server goes in with textContent.
 */
"use strict";

(() => {
  const ops = { loaded: false, plants: [] };
  const q = (sel) => document.querySelector(sel);

  function node(tag, attrs = {}, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") n.textContent = v;
      else if (k === "class") n.className = v;
      else n.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) n.append(c);
    return n;
  }

  function fmt(value, digits = 3) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    if (typeof value === "boolean") return value ? "yes" : "no";
    const a = Math.abs(value);
    if (a >= 1000) return value.toLocaleString("en", { maximumFractionDigits: 0 });
    if (a >= 1) return value.toLocaleString("en", { maximumFractionDigits: Math.max(digits - 1, 1), minimumFractionDigits: 0 });
    return value.toLocaleString("en", { maximumSignificantDigits: digits });
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || `${response.status} ${response.statusText}`);
    return body;
  }

  function message(text) { q("#operate-message").textContent = text; }

  function table(target, headers, rows) {
    const head = node("tr", {}, ...headers.map((h) => node("th", { text: h })));
    target.replaceChildren(node("thead", {}, head), node("tbody", {}, ...rows.map((cells) => node("tr", {}, ...cells.map((c) => (c instanceof Node ? node("td", {}, c) : node("td", { text: c })))))));
  }

  async function loadPlants() {
    message("Loading…");
    try {
      const body = await getJson("/api/operate/plants");
      ops.plants = body.plants;
      const plant = q("#operate-plant");
      plant.replaceChildren(...body.plants.map((p) => node("option", { value: p.plant, text: p.plant })));
      if (!body.plants.length) {
        q("#operate-empty").hidden = false;
        q("#operate-board").hidden = true;
        q("#operate-folder").textContent = body.folder;
        message("");
        return;
      }
      q("#operate-empty").hidden = true;
      fillMonths();
      await loadMonth();
    } catch (error) { message(`Could not load the operating plants: ${error.message}`); }
  }

  function fillMonths() {
    const plant = ops.plants.find((p) => p.plant === q("#operate-plant").value);
    const months = plant ? plant.months : [];
    q("#operate-month").replaceChildren(...months.map((m) => node("option", { value: m, text: m })));
    if (months.length) q("#operate-month").value = months[months.length - 1];
  }

  async function loadMonth() {
    const plant = q("#operate-plant").value;
    const month = q("#operate-month").value;
    if (!plant || !month) return;
    message(`Loading ${plant} ${month} (the first time takes a few seconds: design bands and accounts)…`);
    try {
      const doc = await getJson(`/api/operate/plants/${encodeURIComponent(plant)}/${encodeURIComponent(month)}`);
      show(doc);
      message("");
    } catch (error) { message(`Could not load ${plant} ${month}: ${error.message}`); }
  }

  function show(doc) {
    q("#operate-board").hidden = false;
    q("#operate-title").textContent = `${doc.scenario}: ${doc.month}`;
    showCards(doc);
    showKpis(doc);
    showAlerts(doc);
    showCarbon(doc);
    showLots(doc);
    const rec = doc.reconciliation;
    const suspects = rec.suspect_meters.map((s) => `${s.tag} (${s.hours} h)`).join(", ") || "none";
    q("#operate-reconciliation").textContent = `${rec.hours} hours reconciled; global test passed in ${fmt(100 * rec.global_test_passed_share)} % of hours (${fmt(100 * rec.after_elimination_passed_share)} % after serial elimination). Suspect meters: ${suspects}.`;
  }

  function showCards(doc) {
    const carbon = doc.carbon.length ? doc.carbon[doc.carbon.length - 1] : {};
    const kpi = Object.fromEntries(doc.kpis.map((k) => [k.kpi, k]));
    const card = (title, value, note, bad) => node("div", { class: `card${bad ? " off" : ""}` }, node("span", { text: title }), node("b", { text: value }), node("small", { text: note }));
    const out = kpi.output_t || {};
    const elec = kpi.electricity_kwh_per_t || {};
    q("#operate-cards").replaceChildren(
      card("Output", `${fmt(out.actual)} t`, `design ${fmt(out.design)} t`, out.status && out.status !== "in band"),
      card("Electricity", `${fmt(elec.actual)} kWh/t`, `design ${fmt(elec.design)}`, elec.status && elec.status !== "in band"),
      card("Carbon footprint", `${fmt(carbon.co2_kg_per_kg)} kg CO2e/kg`, "cradle to gate, market-based", false),
      card("Park indicator", `${fmt(carbon.tco2_per_tce)} tCO2/tce`, `YTD ${fmt(carbon.tco2_per_tce_ytd)} · threshold ${fmt(doc.threshold_tco2_per_tce)}`, carbon.meets_threshold === false),
      card("Drift alerts", String(doc.alerts.length), "KPIs out of band ≥ 3 days", doc.alerts.some((a) => a.worse)),
    );
  }

  function statusCell(status) { return node("span", { class: `status-${status.replace(" ", "-")}`, text: status }); }

  function showKpis(doc) {
    table(q("#operate-kpis"), ["KPI", "unit", "actual", "design", "design band", "status"],
      doc.kpis.map((k) => [k.label, k.unit, fmt(k.actual), fmt(k.design), `${fmt(k.low)} – ${fmt(k.high)}`, statusCell(k.status)]));
    const select = q("#operate-series");
    const chosen = select.value;
    select.replaceChildren(...doc.daily.map((s) => node("option", { value: s.kpi, text: `${s.label} (${s.unit})` })));
    if (doc.daily.some((s) => s.kpi === chosen)) select.value = chosen;
    ops.daily = doc.daily;
    drawSeries();
  }

  function drawSeries() {
    const series = (ops.daily || []).find((s) => s.kpi === q("#operate-series").value);
    const target = q("#operate-chart");
    if (!series || !window.Plotly) { target.replaceChildren(); return; }
    const traces = [
      { x: series.days, y: series.high, name: "band high", mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip" },
      { x: series.days, y: series.low, name: "design band", mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: "rgba(58,120,181,0.18)" },
      { x: series.days, y: series.design, name: "design", mode: "lines", line: { dash: "dash", color: "#5b6673" } },
      { x: series.days, y: series.actual, name: "actual", mode: "lines+markers", line: { color: "#b4232c" } },
    ];
    Plotly.react(target, traces, { margin: { t: 10, r: 10, b: 40, l: 60 }, height: 280, yaxis: { title: series.unit }, legend: { orientation: "h" } }, { displaylogo: false, responsive: true });
  }

  function showAlerts(doc) {
    q("#operate-no-alerts").hidden = doc.alerts.length > 0;
    q("#operate-alerts").hidden = doc.alerts.length === 0;
    table(q("#operate-alerts"), ["KPI", "direction", "from", "to", "days", "worst", "band", "for the plant"],
      doc.alerts.map((a) => [a.label, a.direction, a.start, a.end, String(a.periods), fmt(a.worst), `${fmt(a.low)} – ${fmt(a.high)}`, a.worse ? "worse" : "better"]));
  }

  function showCarbon(doc) {
    const months = doc.carbon.map((c) => c.month);
    if (window.Plotly) {
      const bar = (key, name, color) => ({ type: "bar", x: months, y: doc.carbon.map((c) => c[key]), name, marker: { color } });
      Plotly.react(q("#operate-scopes"), [bar("scope1_t", "scope 1", "#7a4f9a"), bar("scope2_market_t", "scope 2 (market)", "#d08a2c"), bar("scope3_t", "scope 3", "#3a78b5")],
        { barmode: "stack", height: 260, margin: { t: 10, r: 10, b: 40, l: 60 }, xaxis: { type: "category" }, yaxis: { title: "t CO2e" }, legend: { orientation: "h" } }, { displaylogo: false, responsive: true });
      Plotly.react(q("#operate-park"), [
        { x: months, y: doc.carbon.map((c) => c.tco2_per_tce), name: "month", mode: "lines+markers" },
        { x: months, y: doc.carbon.map((c) => c.tco2_per_tce_ytd), name: "year to date", mode: "lines+markers" },
        { x: months, y: months.map(() => doc.threshold_tco2_per_tce), name: "park threshold", mode: "lines", line: { dash: "dot", color: "#1f7a3a" } },
      ], { height: 260, margin: { t: 10, r: 10, b: 40, l: 60 }, xaxis: { type: "category" }, yaxis: { title: "tCO2/tce", rangemode: "tozero" }, legend: { orientation: "h" } }, { displaylogo: false, responsive: true });
    }
    table(q("#operate-carbon"), ["month", "output t", "scope 1 t", "scope 2 market t", "scope 2 location t", "scope 3 t", "kg CO2e/kg", "green matched", "hourly CFE", "tCO2/tce", "YTD", "meets"],
      doc.carbon.map((c) => [c.month, fmt(c.product_t), fmt(c.scope1_t), fmt(c.scope2_market_t), fmt(c.scope2_location_t), fmt(c.scope3_t), fmt(c.co2_kg_per_kg), fmt(c.matched_share), fmt(c.cfe_hourly), fmt(c.tco2_per_tce), fmt(c.tco2_per_tce_ytd), fmt(c.meets_threshold)]));
  }

  function showLots(doc) {
    table(q("#operate-lots"), ["lot", "t", "kg CO2e/kg", "kg CO2e/kWh cell", "primary data", "hourly CFE"],
      doc.lots.map((l) => [l.lot_id, fmt(l.mass_kg / 1000), fmt(l.kg_co2e_per_kg), fmt(l.kg_co2e_per_kwh_cell), `${fmt(100 * l.primary_data_share)} %`, fmt(l.hourly_cfe)]));
    q("#operate-lot-note").textContent = `${doc.declaration.lot_definition}. ${doc.declaration.functional_unit}; ${doc.declaration.modelled_on}.`;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const tab = document.querySelector('#tabs button[data-view="operate"]');
    if (!tab) return;
    tab.addEventListener("click", () => { if (!ops.loaded) { ops.loaded = true; loadPlants(); } });
    q("#operate-plant").addEventListener("change", () => { fillMonths(); loadMonth(); });
    q("#operate-month").addEventListener("change", loadMonth);
    q("#operate-series").addEventListener("change", drawSeries);
    q("#operate-refresh").addEventListener("click", loadPlants);
  });
})();

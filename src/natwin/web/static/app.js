/* natwin web app: vanilla JavaScript, no build step, no outside requests.
 *
 * The page builds a scenario mapping from the form, sends it to the HTTP API as a job and polls
 * the job; the ids of its jobs and the last run shown are kept in localStorage, so a reload
 * picks them up again. Every text from the server is inserted with textContent (never as HTML).
 */
"use strict";

const state = {
  catalog: null,
  base: null,          // the packaged scenario the form starts from (a mapping)
  baseName: null,
  nameEdited: false,
  polling: new Map(),  // job id -> timer
  cancelled: new Set(),  // jobs cancelled from this page: no more polls (the server forgets them)
  shownRun: null,
  preliminaryJob: null,  // the job whose preliminary figures are shown (until its run replaces them)
  sweep: null,
};

const KEY_JOBS = "natwin.jobs";
const KEY_RUN = "natwin.shownRun";
const KEY_JOB = "natwin.shownJob";

/* Key figures shown as cards, in order. Label, unit, scale and format of every KPI come from the
 * server's KPI registry (GET /api/kpis, natwin/data/kpis.toml), loaded into state.kpis at start. */
const CARD_KPIS = [
  "cost_cny_per_t", "npv_cny", "irr_project_after_tax", "total_investment_cny", "construction_investment_cny",
  "opex_cny_per_t", "electricity_kwh_per_t", "energy_tce_per_t", "co2_kg_per_kg", "co2_kg_per_kwh",
  "tco2_per_tce", "raw_materials_t_per_t", "water_t_per_t", "staff", "output_vs_nameplate", "oee",
  "cfe_hourly", "energy_cost_cny_per_t", "first_product_p50", "mc_probability_npv_negative",
  "mc_probability_no_payback", "mc_probability_no_irr", "mc_npv_cny_p10", "mc_npv_cny_p90",
];

/* A Monte Carlo percentile is null when it lands among the draws without a value: every draw is
 * counted, a payback never reached beyond the horizon, a missing IRR below any root. */
function monteCarloOutside(key) {
  if (/^mc_payback_\w+_(p10|p50|p90|mean)$/.test(key)) return "never";
  if (/^mc_irr_\w+_(p10|p50|p90|mean)$/.test(key)) return "no IRR";
  return null;
}

/* ------------------------------------------------------------------ helpers */

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children) node.append(child);
  return node;
}

async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const error = new Error((data && data.detail) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    error.problems = (data && data.problems) || [];
    throw error;
  }
  return data;
}

function clone(value) { return JSON.parse(JSON.stringify(value)); }

/* The registry row of a KPI key, with the same rules as natwin.kpis.find: Monte Carlo percentiles
 * (mc_<key>_p10) and currency copies (npv_usd) take the row of the KPI they derive from. */
function kpiRow(key) {
  const rows = state.kpis || {};
  if (rows[key]) return rows[key];
  const mc = /^mc_(.+)_(p10|p50|p90|mean)$/.exec(key);
  if (mc && kpiRow(mc[1])) {
    const base = kpiRow(mc[1]);
    const p = mc[2] === "mean" ? "mean" : mc[2].toUpperCase();
    return { ...base, key, label: `${base.label} ${p}`, heading: base.unit ? `${base.label} ${p} (${base.unit})` : `${base.label} ${p}` };
  }
  const tokens = key.split("_");
  for (let i = 0; i < tokens.length; i++) {
    if (!/^[a-z]{3}$/.test(tokens[i]) || tokens[i] === "cny") continue;
    const base = rows[[...tokens.slice(0, i), "cny", ...tokens.slice(i + 1)].join("_")];
    if (base && base.unit.includes("CNY")) {
      const unit = base.unit.replace("CNY", tokens[i].toUpperCase());
      return { ...base, key, unit, heading: `${base.label} (${unit})` };
    }
  }
  return null;
}

function kpiLabel(key) { const row = kpiRow(key); return row ? row.label : key; }
function kpiHeading(key) { const row = kpiRow(key); return row ? row.heading : key; }

/* Rounded to ``digits`` decimals, ties to even as Python's format() does (-49.25 -> -49.2). */
function roundHalfEven(v, digits) {
  const m = 10 ** digits;
  const x = v * m;
  if (Math.abs(x % 1) !== 0.5) return Math.round(x) / m;
  const t = Math.trunc(x);
  return (t % 2 === 0 ? t : t + Math.sign(x)) / m;
}

function isMissing(value) {
  return value === null || value === undefined || (typeof value === "number" && !isFinite(value));
}

/* Why a KPI of a run is missing ("not viable: every operating year is cash-negative ..."), from the
 * run's text KPI the registry names as its reason; "" when the value is there or unexplained. */
function whyMissing(key, kpis) {
  const row = kpiRow(key);
  if (!row || !row.reason || !isMissing(kpis[key])) return "";
  const text = kpis[row.reason];
  return typeof text === "string" && text !== "ok" ? text : "";
}

/* A KPI value scaled and formatted as the registry says (format specs ",.Nf", ".Nf" or "s"). */
function kpiNumber(key, value) {
  const row = kpiRow(key);
  if (isMissing(value)) return monteCarloOutside(key) || (row && row.absent) || "n/a";
  if (!row || typeof value !== "number") return typeof value === "number" ? shortNumber(value) : String(value);
  const spec = /^(,?)\.(\d+)f$/.exec(row.format);
  if (!spec) return shortNumber(value);
  const digits = Number(spec[2]);
  let text = roundHalfEven(value * row.scale, digits).toLocaleString("en-US", {
    minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: spec[1] === ",",
  });
  if (/^-0(\.0*)?$/.test(text)) text = text.slice(1);
  return text;
}

/* Human labels of input paths (GET /api/labels), cached. */
const inputLabels = new Map();
async function loadInputLabels(paths) {
  const missing = [...new Set(paths)].filter((p) => !inputLabels.has(p)).slice(0, 200);
  if (!missing.length) return;
  try {
    const data = await api("GET", `/api/labels?${missing.map((p) => `paths=${encodeURIComponent(p)}`).join("&")}`);
    for (const [path, label] of Object.entries(data.labels)) inputLabels.set(path, label);
  } catch (e) { /* keep the paths */ }
}
function inputLabel(path) { return inputLabels.get(path) || path; }

/* A sweep point's name "path=value; path=value" with each path's label. */
function pointLabel(name) {
  return name.split("; ").map((part) => {
    const at = part.indexOf("=");
    return at < 0 ? part : `${inputLabel(part.slice(0, at))} = ${part.slice(at + 1)}`;
  }).join("; ");
}
function pointPaths(name) {
  return name.split("; ").filter((part) => part.includes("=")).map((part) => part.slice(0, part.indexOf("=")));
}

/* A number as people write it: thousands separated, millions and billions in words, never in
   e-notation (6.931e+8 read as "693.1 million"); ``fractionDigits`` fixes the decimals. */
function plainNumber(value, fractionDigits) {
  if (typeof value !== "number" || !isFinite(value)) return value === null || value === undefined ? "–" : String(value);
  const fmt = (v, options) => v.toLocaleString("en-US", options);
  if (fractionDigits !== undefined) return fmt(value, { minimumFractionDigits: fractionDigits, maximumFractionDigits: fractionDigits });
  const a = Math.abs(value);
  if (a >= 1e9) return `${fmt(value / 1e9, { maximumFractionDigits: 2 })} billion`;
  if (a >= 1e7) return `${fmt(value / 1e6, { maximumFractionDigits: 1 })} million`;
  if (a !== 0 && a < 0.01) return fmt(value, { maximumSignificantDigits: 3 });
  return fmt(value, { maximumFractionDigits: a < 10 ? 4 : a < 1000 ? 2 : 0 });
}
const shortNumber = (value) => plainNumber(value);

/* Two numbers "low → high" in the same manner (both in millions when the larger is). */
function plainRange(low, high) {
  const top = Math.max(Math.abs(low), Math.abs(high));
  if (top >= 1e9) return `${plainNumber(low / 1e9, 2)} → ${plainNumber(high / 1e9, 2)} billion`;
  if (top >= 1e7) return `${plainNumber(low / 1e6, 1)} → ${plainNumber(high / 1e6, 1)} million`;
  return `${plainNumber(low)} → ${plainNumber(high)}`;
}

function loadJobIds() {
  try { return JSON.parse(localStorage.getItem(KEY_JOBS) || "[]").filter((id) => /^[0-9a-f]{32}$/.test(id)); }
  catch (e) { return []; }
}

function rememberJob(id) {
  const ids = [id, ...loadJobIds().filter((j) => j !== id)].slice(0, 50);
  localStorage.setItem(KEY_JOBS, JSON.stringify(ids));
}

/* ------------------------------------------------------------------ tabs */

function showView(name) {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.setAttribute("aria-selected", String(button.dataset.view === name));
  }
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  if (name === "runs") refreshRuns();
  if (name === "compare") fillComparePickers();
  if (name === "jobs") refreshJobs();
}

/* ------------------------------------------------------------------ the form */

function routeOf(id) { return state.catalog.routes.find((r) => r.id === id); }

function fillSelect(select, items, value) {
  select.replaceChildren(...items.map(([v, label, disabled]) => el("option", { value: v, disabled: disabled || null, text: label })));
  if (value !== undefined && items.some(([v]) => v === value)) select.value = value;
}

function fillRoutes(chemistry, route) {
  const routes = state.catalog.routes.filter((r) => r.chemistry === chemistry);
  fillSelect($("#route"), routes.map((r) => [r.id, r.name]), route);
  showRouteFigures();
  fillPrices();
}

function showRouteFigures() {
  const r = routeOf($("#route").value);
  // the catalog's route electricity is without chillers: the registry's process electricity
  const figure = (key, value) => { const label = kpiLabel(key); return `${label.charAt(0).toLowerCase()}${label.slice(1)} ${kpiNumber(key, value)} ${kpiRow(key) ? kpiRow(key).unit : ""}`; };
  $("#route-figures").textContent = r
    ? [`${r.units} units`, figure("raw_materials_t_per_t", r.raw_materials_t_per_t),
      figure("electricity_process_kwh_per_t", r.electricity_kwh_per_t), figure("process_co2_kg_per_t", r.process_co2_kg_per_t)].join(" · ")
    : "";
}

/* A price's name in words, without its unit (shown beside it): the server's label of the input
   ("Processing fee of NFM111 (CNY/t)" -> "Processing fee of NFM111"), else the name's words. */
function priceLabel(name) {
  const label = inputLabel(`prices.${name}`);
  if (label !== `prices.${name}`) return label.replace(/ \([^()]*\)$/, "");
  if (name.startsWith("product.")) return `${name.slice(8)} (product)`;
  if (name.startsWith("by_product.")) return `${name.slice(11)} (by-product)`;
  if (name.startsWith("fee.")) return `processing fee of ${name.slice(4)}`;
  if (name.startsWith("utility.")) return name.slice(8).replace(/_/g, " ");
  return name;
}

function fillPrices() {
  const body = $("#prices tbody");
  const r = routeOf($("#route").value);
  const current = (state.base && state.base.prices) || {};
  const kept = {};
  for (const input of body.querySelectorAll("input")) if (input.value !== "") kept[input.dataset.name] = input.value;
  body.replaceChildren();
  if (!r) return;
  for (const name of r.price_items) {
    const p = state.catalog.prices[name];
    if (!p) continue;
    const input = el("input", {
      type: "number", step: "any", min: p.min ?? 0, "data-name": name, "data-path": `prices.${name}`,
      placeholder: p.default === null ? "no default" : shortNumber(p.default), "aria-label": `price of ${name}`,
    });
    if (kept[name] !== undefined) input.value = kept[name];
    else if (current[name] !== undefined) input.value = current[name];
    const range = p.low !== null && p.high !== null ? ` range ${shortNumber(p.low)}–${shortNumber(p.high)}` : "";
    const source = el("details", { class: "source" },
      el("summary", {}, el("span", { class: "tag", text: p.tag }), "source"), el("p", { text: p.source }));
    body.append(el("tr", {},
      el("td", { text: priceLabel(name) }),
      el("td", {}, input),
      el("td", {}, el("span", { class: "unit", text: `${p.unit}${range}` }), source)));
  }
}

function applyBase(raw, name) {
  state.base = raw;
  state.baseName = name;
  const plant = raw.plant || {};
  $("#base").value = name;
  $("#chemistry").value = plant.chemistry;
  fillRoutes(plant.chemistry, plant.route);
  $("#capacity").value = plant.capacity_t_per_year;
  $("#site").value = (raw.site && raw.site.id) || state.catalog.sites[0].id;
  const share = (raw.carbon && raw.carbon.green_electricity_share) ?? state.catalog.green_electricity.default ?? 0;
  $("#green").value = Math.round(share * 100);
  $("#green-out").textContent = `${Math.round(share * 100)} %`;
  $("#energy").checked = !(raw.energy && raw.energy.enabled === false);
  if (state.catalog.energy_targets.length) {  // the scenario's target, or none
    const target = (raw.energy && raw.energy.target) || "";
    $("#energy-target").value = [...$("#energy-target").options].some((o) => o.value === target) ? target : "";
    const value = raw.energy && raw.energy.target_value;
    $("#energy-target-value").value = value === undefined || value === null ? "" : value;
  }
  syncGreen();
  for (const input of document.querySelectorAll("#prices input")) {
    input.value = raw.prices && raw.prices[input.dataset.name] !== undefined ? raw.prices[input.dataset.name] : "";
  }
  state.nameEdited = false;
  $("#run-name").value = plant.name || name;  // the scenario's own name until the plant changes
}

function autoName() {
  if (state.nameEdited) return;
  const share = Number($("#green").value);
  const route = routeOf($("#route").value);
  const site = state.catalog.sites.find((x) => x.id === $("#site").value);
  $("#run-name").value = `${$("#chemistry").value}, ${Number($("#capacity").value).toLocaleString("en-US")} t/yr` +
    `${route ? `, ${route.name}` : ""}${site ? `, ${site.name}` : ""}${share ? `, ${share} % green electricity` : ""}`;
}

/* The scenario mapping of the form: the base scenario with the form's changes. */
/* A number field whose text is not a number ("12e") reads as empty, which meant "the default":
   refuse it instead, naming the field, before anything is sent. */
function unreadableNumbers() {
  const bad = [...document.querySelectorAll("#scenario-form input[type=number]")].filter((i) => i.validity.badInput);
  return bad.map((i) => ({ path: i.dataset.path || i.id, value: null,
    allowed: "a number (digits, a decimal point, an exponent such as 1.2e4); this text is not one" }));
}

/* The green-electricity share counts only without the energy system (which decides the supply
   hour by hour); while it runs the control is disabled and a note says why. */
function syncGreen() {
  const energyOn = state.catalog.run_options.includes("energy") && $("#energy").checked;
  $("#green").disabled = energyOn;
  $("#green-note").hidden = !energyOn;
}

function scenarioFromForm() {
  const unreadable = unreadableNumbers();
  if (unreadable.length) throw Object.assign(new Error("a field is not a number"), { problems: unreadable });
  const raw = clone(state.base);
  raw.plant = raw.plant || {};
  raw.plant.chemistry = $("#chemistry").value;
  raw.plant.route = $("#route").value;
  const capacity = $("#capacity").value;
  raw.plant.capacity_t_per_year = capacity === "" ? null : Number(capacity);
  const name = $("#run-name").value.trim();
  if (name) raw.plant.name = name;
  raw.site = Object.assign({}, raw.site, { id: $("#site").value });
  const share = Number($("#green").value) / 100;
  const baseShare = (state.base.carbon && state.base.carbon.green_electricity_share) ?? state.catalog.green_electricity.default ?? 0;
  if (share !== baseShare) raw.carbon = Object.assign({}, raw.carbon, { green_electricity_share: share });
  const prices = Object.assign({}, raw.prices);
  for (const input of document.querySelectorAll("#prices input")) {
    if (input.value === "") delete prices[input.dataset.name];
    else prices[input.dataset.name] = Number(input.value);
  }
  raw.prices = prices;
  if (state.catalog.run_options.includes("energy") && !$("#energy").checked) {
    raw.energy = Object.assign({}, raw.energy, { enabled: false });
  }
  if (state.catalog.energy_targets.length && $("#energy-target").value !== "") {
    raw.energy = Object.assign({}, raw.energy, { target: $("#energy-target").value });
    const value = $("#energy-target-value").value;
    if (value !== "") raw.energy.target_value = Number(value);
  }
  return raw;
}

function clearProblems() {
  $("#problems").replaceChildren();
  for (const node of document.querySelectorAll(".invalid")) node.classList.remove("invalid");
  for (const node of document.querySelectorAll("#scenario-form .field-error")) node.remove();
}

/* The form control of a problem's path: the control with that data-path; for a problem of a
   whole section ("energy": "target 'cfe_hourly' needs target_value") the section's control whose
   field the message names; null when no control shows the field. */
function controlOf(path, message) {
  if (!path) return null;
  const exact = document.querySelector(`#scenario-form [data-path="${CSS.escape(path)}"]`);
  if (exact) return exact;
  const inside = [...document.querySelectorAll(`#scenario-form [data-path^="${CSS.escape(path + ".")}"]`)];
  const named = inside.filter((c) => String(message).includes(c.dataset.path.slice(path.length + 1)));
  return named.sort((a, b) => b.dataset.path.length - a.dataset.path.length)[0] || null;
}

/* The name of a field in words: its control's label, the server's label of the path, or the
   path's last part with spaces ("operating days per year"). */
function fieldName(path, control) {
  const label = control && control.closest("label");
  if (label) {
    const text = [...label.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join(" ").trim();
    if (text) return text;
  }
  if (control && control.dataset.name) return priceLabel(control.dataset.name);
  const known = inputLabels.get(path);
  if (known && known !== path) return known;
  if (path === "file") return "The file";
  if (!path || path === "<body>") return "The scenario";
  const parts = path.split(".");
  const last = parts[parts.length - 1].replace(/_/g, " ");
  return parts.length > 1 ? `${parts[0]}: ${last}` : last;
}

/* What a rule allows, in plain words ("expected greater than or equal to 100" -> "must be at
   least 100"). */
function plainRule(allowed) {
  const text = String(allowed || "").trim();
  const rules = [
    [/^expected greater than or equal to (.+)$/, "must be at least $1"],
    [/^expected greater than (.+)$/, "must be more than $1"],
    [/^expected less than or equal to (.+)$/, "must be at most $1"],
    [/^expected less than (.+)$/, "must be less than $1"],
    [/^required field is missing$/, "is needed"],
    [/^expected a valid (number|integer).*$/, "must be a $1"],
    [/^expected (.+)$/, "must be $1"],
  ];
  for (const [pattern, words] of rules) if (pattern.test(text)) return text.replace(pattern, words);
  return text;
}

/* A value worth echoing: a number, text or true/false (never a whole section as JSON). */
function echoed(value) {
  if (value === null || value === undefined || typeof value === "object") return "";
  return ` (you gave ${typeof value === "string" ? `"${value}"` : String(value)})`;
}

/* Problems (from the server's validation or the form's own checks): each beside the control of
   its field, in words; those of fields without a control in the box by the Run button. */
function showProblems(error, kind = "error") {
  if (kind === "error") clearProblems();
  const list = $("#problems");
  const problems = error.problems && error.problems.length ? error.problems : [{ path: "", value: null, allowed: error.message }];
  for (const p of problems) {
    const path = String(p.path || "").replace(/^scenario\./, "");
    const control = controlOf(path, p.allowed);
    const rule = plainRule(p.allowed);
    if (control && !control.closest("[hidden]")) {
      if (kind === "error") control.classList.add("invalid");
      const note = el("span", { class: `field-error ${kind}`, "data-path": null, "data-for": path,
        text: `${rule.charAt(0).toUpperCase()}${rule.slice(1)}${echoed(p.value)}` });
      note.setAttribute("role", kind === "error" ? "alert" : "note");
      const cell = control.closest("td");
      const folded = control.closest("details");
      if (folded) folded.open = true;  // a field in a folded block (Monte Carlo, prices): unfold it
      if (cell) cell.append(note);
      else (control.closest("label") || control).after(note);
    } else {
      list.append(el("li", { class: kind, "data-for": path, text: `${fieldName(path, null)}: ${rule}${echoed(p.value)}` }));
    }
  }
}

/* ------------------------------------------------------------------ scenario files */

/* The form's scenario as a TOML file (the server checks it and writes it: POST /api/scenario.toml). */
async function downloadScenario() {
  clearProblems();
  let scenario;
  try { scenario = scenarioFromForm(); } catch (error) { showProblems(error); return; }
  const response = await fetch("/api/scenario.toml", {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "application/toml" }, body: JSON.stringify(scenario),
  });
  if (!response.ok) {
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    showProblems({ message: (data && data.detail) || response.statusText, problems: (data && data.problems) || [] });
    return;
  }
  const disposition = response.headers.get("content-disposition") || "";
  const name = (/filename="([^"]+)"/.exec(disposition) || [null, "scenario.toml"])[1];
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/* A scenario file into the form: the server reads it and checks it as natwin validate does
   (POST /api/scenario-file); its values fill the form, its problems show beside their fields. */
async function uploadScenario(file) {
  clearProblems();
  let answer;
  try {
    answer = await api("POST", "/api/scenario-file", { toml: await file.text() });
  } catch (error) { showProblems(error); return; }
  const raw = answer.scenario;
  const plant = raw.plant || {};
  if (typeof plant === "object" && state.catalog.chemistries.some((c) => c.id === plant.chemistry)) {
    applyBase(clone(raw), state.baseName);
    $("#run-name").value = typeof plant.name === "string" ? plant.name : "";
    state.nameEdited = true;
  }
  if (answer.problems.length) showProblems({ message: "", problems: answer.problems });
  else $("#problems").replaceChildren(el("li", { class: "ok", style: "color: var(--good)",
    text: `${file.name}: valid (scenario ${answer.scenario_hash.slice(0, 12)}), loaded into the form` }));
  if (answer.warnings.length) showProblems({ message: "", problems: answer.warnings }, "warning");
}

/* ------------------------------------------------------------------ jobs */

const START_BUTTONS = ["#run-btn", "#mc-btn", "#sens-btn", "#sweep-btn", "#study-btn"];

async function startJob(kind, extra = {}) {
  if (state.submitting) return;  // a double click, or Run while a submission is in flight: one job
  state.submitting = true;
  for (const id of START_BUTTONS) $(id).disabled = true;
  clearProblems();
  try {
    const body = Object.assign({ scenario: scenarioFromForm(), name: $("#run-name").value.trim() || null,
      simulate: $("#simulate").checked }, extra);
    const job = await api("POST", `/api/jobs/${kind}`, body);
    rememberJob(job.id);
    localStorage.setItem(KEY_JOB, job.id);
    showJob(job);
    poll(job.id);
  } catch (error) {
    showProblems(error);
  } finally {
    state.submitting = false;
    for (const id of START_BUTTONS) $(id).disabled = false;
  }
}

function showJob(job) {
  const box = $("#job-status");
  box.hidden = false;
  $("#job-label").textContent = `${job.kind} · ${job.status}`;
  $("#job-progress").value = job.progress;
  let message = job.message || "";
  if (job.kind === "sweep") message += ` (${job.points_done}/${job.points_total})`;
  if (job.status === "queued" && job.queue_position) message = `waiting: place ${job.queue_position} in the queue`;
  if (job.status === "running" && job.started_at) {
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(job.started_at)) / 1000));
    message += ` · ${seconds} s`;
  }
  if ((job.status === "running" || job.status === "queued") && typeof job.eta_s === "number") {
    message += ` · about ${duration(job.eta_s)} left`;
  }
  if (job.error) message = job.error.split("\n")[0];
  $("#job-message").textContent = message;
  box.dataset.status = job.status;
  const cancel = $("#job-cancel");
  cancel.hidden = !(job.status === "queued" || job.status === "running");
  cancel.dataset.job = job.id;
  showStages(job);
}

/* Cancel the job shown: a queued job leaves the queue, a running one is stopped; the server
   then forgets it (the runs it stored stay). */
async function cancelJob() {
  const jobId = $("#job-cancel").dataset.job;
  if (!jobId) return;
  state.cancelled.add(jobId);
  try {
    const job = await api("DELETE", `/api/jobs/${jobId}`);
    clearTimeout(state.polling.get(jobId));
    state.polling.delete(jobId);
    showJob(job);
    if (state.preliminaryJob === jobId) {
      $("#preliminary-note").textContent = `The job was ${job.status}; the figures above are only the preliminary ones.`;
    }
    updateBadge();
  } catch (error) {
    showProblems(error);
  }
}

function duration(seconds) {
  if (seconds < 1) return "1 s";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  return `${Math.round(seconds / 60)} min`;
}

/* The job's stages in order: done ones with their time, the running one marked. */
function showStages(job) {
  const list = $("#job-stages");
  const stages = job.kind === "sweep" ? [] : (job.stages || []);
  list.hidden = !stages.length;
  list.replaceChildren(...stages.map((s) => el("li", { "data-stage": s.name, "data-status": s.status,
    text: s.status === "done" && typeof s.seconds === "number" ? `${s.name} ${s.seconds.toFixed(1)} s` : s.name })));
}

/* The steady-state figures of a running job, marked preliminary, until its stored run replaces them. */
function showPreliminary(job) {
  const pre = job.preliminary;
  state.preliminaryJob = job.id;
  state.shownRun = null;
  $("#empty-results").hidden = true;
  $("#run-results").hidden = false;
  $("#run-results").dataset.preliminary = "true";
  $("#sweep-results").hidden = true;
  $("#sensitivity-results").hidden = true;
  $("#run-edit").hidden = true;
  $("#study-controls").hidden = true;
  $("#run-title").textContent = `${job.name} (preliminary)`;
  $("#run-meta").textContent = `job ${job.id} · ${job.status}`;
  $("#preliminary-note").textContent = pre.note;
  $("#preliminary-note").hidden = false;
  const verdict = pre.verdict && pre.verdict.sentence;
  $("#verdict").textContent = typeof verdict === "string" ? verdict : "";
  $("#verdict").className = `verdict verdict-${(pre.verdict && pre.verdict.status) || "none"}`;
  $("#verdict").hidden = typeof verdict !== "string";
  $("#kpis").replaceChildren(...kpiCards(pre.kpis));
  $("#downloads").replaceChildren(el("span", { class: "muted", text: "the report and workbooks come with the full run" }));
  const frame = $("#report-frame");
  frame.hidden = true;
  frame.removeAttribute("src");
}

function poll(jobId) {
  if (state.polling.has(jobId)) return;
  const tick = async () => {
    if (state.cancelled.has(jobId)) return;
    let job;
    try {
      job = await api("GET", `/api/jobs/${jobId}`);
    } catch (error) {
      state.polling.delete(jobId);
      if (error.status === 404 && localStorage.getItem(KEY_JOB) === jobId) {
        $("#job-message").textContent = "the server no longer knows this job (restarted?); stored runs are under Stored runs";
      }
      return;
    }
    if (localStorage.getItem(KEY_JOB) === jobId) {
      showJob(job);
      if (job.status === "running" && job.preliminary && state.preliminaryJob !== jobId) showPreliminary(job);
    }
    updateBadge();
    if (job.status === "queued" || job.status === "running") {
      // quickly until the preliminary figures are in (they come within a second of the start)
      const fast = job.kind !== "sweep" && !job.preliminary;
      state.polling.set(jobId, setTimeout(tick, fast ? 250 : 700));
      return;
    }
    state.polling.delete(jobId);
    if (localStorage.getItem(KEY_JOB) !== jobId) return;
    if (job.status !== "done" && state.preliminaryJob === jobId) {
      $("#preliminary-note").textContent = `The full run ${job.status}: ${(job.error || "").split("\n")[0]}; the figures above are only the preliminary ones.`;
    }
    if (job.status === "failed" && job.problems) showProblems({ message: job.error, problems: job.problems });
    if (job.status === "done" && job.run_id) await showRun(job.run_id);
    if (job.status === "done" && job.sweep_id) await showSweep(job.sweep_id);
  };
  state.polling.set(jobId, setTimeout(tick, 300));
}

async function updateBadge() {
  const ids = loadJobIds();
  if (!ids.length) return;
  try {
    const data = await api("GET", `/api/jobs?${ids.map((i) => `ids=${i}`).join("&")}`);
    const active = data.jobs.filter((j) => j.status === "queued" || j.status === "running").length;
    $("#jobs-badge").hidden = !active;
    $("#jobs-badge").textContent = String(active);
  } catch (e) { /* the badge is a convenience */ }
}

async function refreshJobs() {
  const ids = loadJobIds();
  const body = $("#jobs-table tbody");
  if (!ids.length) { body.replaceChildren(el("tr", {}, el("td", { colspan: 7, text: "no jobs yet" }))); return; }
  const data = await api("GET", `/api/jobs?${ids.map((i) => `ids=${i}`).join("&")}`);
  body.replaceChildren(...data.jobs.map((job) => {
    const open = el("button", { type: "button", text: "show" });
    open.addEventListener("click", async () => {
      localStorage.setItem(KEY_JOB, job.id);
      showView("plant");
      showJob(job);
      if (job.run_id) await showRun(job.run_id);
      else if (job.sweep_id) await showSweep(job.sweep_id);
      else poll(job.id);
    });
    return el("tr", {},
      el("td", { text: job.kind }), el("td", { text: job.name }), el("td", { text: job.status }),
      el("td", { class: "num", text: `${Math.round(job.progress * 100)} %` }),
      el("td", { text: (job.error || job.message || "").split("\n")[0] }),
      el("td", { text: (job.started_at || "").slice(0, 19).replace("T", " ") }),
      el("td", {}, open));
  }));
}

/* ------------------------------------------------------------------ results */

function kpiCards(kpis) {
  const cards = [];
  for (const key of CARD_KPIS) {
    if (!(key in kpis)) continue;
    const row = kpiRow(key);
    cards.push(el("div", { class: "kpi", "data-kpi": key, title: row ? row.definition : "" },
      el("div", { class: "label", text: kpiLabel(key) }),
      el("span", { class: "value", text: kpiNumber(key, kpis[key]) }),
      el("span", { class: "unit", text: row && !isMissing(kpis[key]) ? row.unit : "" }),
      ...(whyMissing(key, kpis) ? [el("div", { class: "note", text: whyMissing(key, kpis) })] : [])));
  }
  return cards;
}

const FILE_LABELS = {
  "report.html": "Report (HTML)", "workbook.xlsx": "Cost workbook (xlsx)", "balance.xlsx": "Balance workbook (xlsx)",
  "results.json": "results.json", "uncertainty.json": "uncertainty.json",
  "study-en.pdf": "Feasibility study (PDF)", "study-en.docx": "Feasibility study (DOCX)",
  "study-zh.pdf": "可行性研究报告 (PDF)", "study-zh.docx": "可行性研究报告 (DOCX)",
};

async function showRun(runId) {
  let run;
  try {
    run = await api("GET", `/api/runs/${encodeURIComponent(runId)}`);
  } catch (error) {
    if (error.status === 404) localStorage.removeItem(KEY_RUN);
    return;
  }
  state.shownRun = runId;
  state.shownRunDetail = run;
  $("#run-edit").hidden = !run.scenario;
  $("#study-controls").hidden = !run.scenario;
  state.preliminaryJob = null;
  localStorage.setItem(KEY_RUN, runId);
  $("#run-results").dataset.preliminary = "false";
  $("#preliminary-note").hidden = true;
  $("#empty-results").hidden = true;
  $("#run-results").hidden = false;
  $("#sweep-results").hidden = true;
  $("#run-title").textContent = run.name || run.run_id;
  $("#run-meta").textContent = `run ${run.run_id} · scenario ${String(run.scenario_hash || "").slice(0, 12)} · natwin ${run.natwin_version}` +
    (run.status !== "ok" ? ` · ${run.status}: ${run.error}` : "");
  const verdict = run.kpis.verdict;  // one sentence: viable at the hurdle rate or not, and why
  $("#verdict").textContent = typeof verdict === "string" ? verdict : "";
  $("#verdict").className = `verdict verdict-${run.kpis.verdict_status || "none"}`;
  $("#verdict").hidden = typeof verdict !== "string";
  $("#kpis").replaceChildren(...kpiCards(run.kpis));
  await showSensitivity(runId, run);
  const links = run.files.map((name) => el("a", {
    href: `/api/runs/${encodeURIComponent(runId)}/files/${name}${name.endsWith(".html") ? "?download=true" : ""}`,
    "data-file": name, text: FILE_LABELS[name] || name,
  }));
  $("#downloads").replaceChildren(...(links.length ? links : [el("span", { class: "muted", text: "no files kept for this run (run outside the web app)" })]));
  const frame = $("#report-frame");
  if (run.files.includes("report.html")) {
    frame.setAttribute("sandbox", "allow-scripts allow-popups allow-popups-to-escape-sandbox allow-downloads");
    const src = `/api/runs/${encodeURIComponent(runId)}/files/report.html`;
    if (frame.getAttribute("src") !== src) frame.setAttribute("src", src);
    frame.hidden = false;
  } else {
    frame.hidden = true;
    frame.removeAttribute("src");
  }
}

/* ------------------------------------------------------------------ sensitivity */

const SENSITIVITY_BARS = 12;

/* A run's sensitivity study (its tables "tornado" or "sobol"): a chart and a table of the
   inputs that matter most, each input named in words with its unit (the server's labels),
   the output by the KPI registry's heading and scale. */
async function showSensitivity(runId, run) {
  const box = $("#sensitivity-results");
  const name = ["tornado", "sobol"].find((t) => (run.tables || []).includes(t));
  box.hidden = !name;
  if (!name) return;
  let rows;
  try { rows = await api("GET", `/api/runs/${encodeURIComponent(runId)}/tables/${name}`); }
  catch (e) { box.hidden = true; return; }
  const output = rows.length ? rows[0].output : "";
  const mine = rows.filter((r) => r.output === output).slice(0, SENSITIVITY_BARS);
  if (name === "tornado") drawTornado(output, mine);
  else drawSobol(output, mine);
}

function drawTornado(output, bars) {
  const row = kpiRow(output);
  const scale = row && typeof row.scale === "number" ? row.scale : 1;
  const base = bars.length ? bars[0].base_output : 0;
  $("#sensitivity-title").textContent = `Tornado of ${kpiLabel(output)}: each input alone at its P10 and P90, the others at the run's values`;
  const labels = bars.map((b) => b.label);
  if (window.Plotly) {
    const trace = (key, name, color) => ({ type: "bar", orientation: "h", name, y: labels, marker: { color },
      x: bars.map((b) => (b[key] - base) * scale), base: bars.map(() => base * scale) });
    Plotly.react("sensitivity-chart", [trace("low_output", "input at its P10", "#5b8bd0"), trace("high_output", "input at its P90", "#e0a100")],
      { barmode: "overlay", height: 90 + 28 * bars.length, margin: { t: 10, l: 320, r: 20, b: 50 },
        yaxis: { autorange: "reversed", automargin: true }, xaxis: { title: { text: kpiHeading(output) } },
        legend: { orientation: "h", y: -0.25 } },
      { displaylogo: false, responsive: true });
  }
  $("#sensitivity-table thead").replaceChildren(el("tr", {}, el("th", { text: "input" }),
    el("th", { class: "num", text: "the input at its P10 → P90" }),
    el("th", { class: "num", text: `${kpiLabel(output)} at the input's P10 (${row ? row.unit : ""})` }),
    el("th", { class: "num", text: `at its P90 (${row ? row.unit : ""})` })));
  $("#sensitivity-table tbody").replaceChildren(...bars.map((b) => el("tr", { "data-input": b.input },
    el("td", { text: b.label }), el("td", { class: "num", text: plainRange(b.low_input, b.high_input) }),
    el("td", { class: "num", text: kpiNumber(output, b.low_output) }), el("td", { class: "num", text: kpiNumber(output, b.high_output) }))));
}

function drawSobol(output, rows) {
  $("#sensitivity-title").textContent = `Sobol indices of ${kpiLabel(output)}: the share of its variance each input explains (first order) and with its interactions (total)`;
  const labels = rows.map((r) => r.label);
  if (window.Plotly) {
    const trace = (key, name, color) => ({ type: "bar", orientation: "h", name, y: labels, x: rows.map((r) => r[key]),
      error_x: { type: "data", array: rows.map((r) => r[`${key}_conf`]) }, marker: { color } });
    Plotly.react("sensitivity-chart", [trace("S1", "first order S1", "#5b8bd0"), trace("ST", "total order ST", "#e0a100")],
      { barmode: "group", height: 90 + 34 * rows.length, margin: { t: 10, l: 320, r: 20, b: 50 },
        yaxis: { autorange: "reversed", automargin: true }, xaxis: { title: { text: "share of the variance (95 % confidence interval)" } },
        legend: { orientation: "h", y: -0.25 } },
      { displaylogo: false, responsive: true });
  }
  const share = (v, c) => `${plainNumber(v, 3)} ± ${plainNumber(c, 3)}`;
  $("#sensitivity-table thead").replaceChildren(el("tr", {}, el("th", { text: "input" }),
    el("th", { class: "num", text: "first order S1" }), el("th", { class: "num", text: "total order ST" })));
  $("#sensitivity-table tbody").replaceChildren(...rows.map((r) => el("tr", { "data-input": r.input },
    el("td", { text: r.label }), el("td", { class: "num", text: share(r.S1, r.S1_conf) }), el("td", { class: "num", text: share(r.ST, r.ST_conf) }))));
}

async function showSweep(sweepId) {
  const sweep = await api("GET", `/api/sweeps/${sweepId}`);
  state.sweep = sweep;
  state.preliminaryJob = null;
  $("#run-results").dataset.preliminary = "false";
  $("#preliminary-note").hidden = true;
  $("#empty-results").hidden = true;
  $("#run-results").hidden = false;
  $("#report-frame").hidden = true;
  $("#sensitivity-results").hidden = true;
  $("#downloads").replaceChildren();
  $("#run-edit").hidden = true;
  $("#study-controls").hidden = true;
  $("#run-title").textContent = `Sweep: ${sweep.name}`;
  $("#run-meta").textContent = `sweep ${sweep.sweep_id} · ${sweep.done} of ${sweep.n_points} points stored` +
    (sweep.failed ? `, ${sweep.failed} failed` : "");
  const first = sweep.points.find((p) => p.status === "ok");
  $("#verdict").hidden = true;
  $("#kpis").replaceChildren();
  $("#sweep-results").hidden = false;
  const numeric = first ? Object.keys(first.kpis).filter((k) => typeof first.kpis[k] === "number") : [];
  const chosen = $("#sweep-kpi").value && numeric.includes($("#sweep-kpi").value) ? $("#sweep-kpi").value
    : numeric.includes("cost_cny_per_t") ? "cost_cny_per_t" : numeric[0];
  fillSelect($("#sweep-kpi"), numeric.map((k) => [k, kpiHeading(k)]), chosen);
  await loadInputLabels(sweep.points.flatMap((p) => pointPaths(p.name || "")));
  drawSweep();
}

/* When every point varies the same one input, its values are the x axis (spaced by value, not
   evenly by position, and named by the input); otherwise the points' labels. */
function sweepAxis(points) {
  const parts = points.map((p) => (p.name || "").split("; "));
  if (!parts.length || parts.some((ps) => ps.length !== 1 || !ps[0].includes("="))) return null;
  const path = parts[0][0].slice(0, parts[0][0].indexOf("="));
  const xs = parts.map((ps) => Number(ps[0].slice(ps[0].indexOf("=") + 1)));
  if (parts.some((ps) => !ps[0].startsWith(`${path}=`)) || !xs.every(Number.isFinite)) return null;
  return { path, xs };
}

function drawSweep() {
  const sweep = state.sweep;
  if (!sweep) return;
  const kpi = $("#sweep-kpi").value;
  const ok = sweep.points.filter((p) => p.status === "ok");
  const labels = ok.map((p) => (p.name ? pointLabel(p.name) : String(p.sweep_index)));
  const row = kpiRow(kpi);
  const scale = row && typeof row.scale === "number" ? row.scale : 1;
  const axis = sweepAxis(ok);
  if (window.Plotly && kpi) {
    Plotly.react("sweep-chart", [{ type: "scatter", mode: "lines+markers", name: kpiLabel(kpi), x: axis ? axis.xs : labels,
      y: ok.map((p) => (typeof p.kpis[kpi] === "number" ? p.kpis[kpi] * scale : null)) }],
      { margin: { t: 20, l: 70, r: 20, b: 90 }, height: 320, yaxis: { title: { text: kpiHeading(kpi) } },
        xaxis: axis ? { type: "linear", title: { text: inputLabel(axis.path) } } : { type: "category" } },
      { displaylogo: false, responsive: true });
  }
  const head = el("tr", {}, el("th", { text: "#" }), el("th", { text: "point" }), el("th", { text: "status" }), el("th", { text: kpi ? kpiHeading(kpi) : "" }));
  $("#sweep-table thead").replaceChildren(head);
  $("#sweep-table tbody").replaceChildren(...sweep.points.map((p) => {
    const link = el("a", { href: "#", text: String(p.sweep_index) });
    link.addEventListener("click", (event) => { event.preventDefault(); showRun(p.run_id); });
    return el("tr", {}, el("td", {}, link), el("td", { text: p.name ? pointLabel(p.name) : "" }),
      el("td", { text: p.status === "ok" ? "ok" : `failed: ${(p.error || "").split("\n")[0]}` }),
      el("td", { class: "num", text: kpiNumber(kpi, p.kpis[kpi]) }));
  }));
}

/* ------------------------------------------------------------------ column chooser */

/* A wide table's column chooser: a folded list above the table with a tick per column; the
   columns in ``optional`` (indices) start hidden, the user's ticks are kept while the page
   lives (the table is redrawn on refresh), and a printout shows every column (app.css).
   ``fixed`` columns (the row's name, a selection box) always show. */
function chooseColumns(table, optional, fixed = [0]) {
  const id = table.id;
  state.columnChoice = state.columnChoice || {};
  const heads = [...table.querySelectorAll("thead th")];
  const key = `${id}:${heads.map((h) => h.textContent).join("|")}`;  // new columns: fresh defaults
  if (!state.columnChoice[id] || state.columnChoice[id].key !== key) {
    state.columnChoice[id] = { key, hidden: new Set(optional.filter((i) => i < heads.length)) };
  }
  const hidden = state.columnChoice[id].hidden;
  const apply = () => {
    for (const row of table.querySelectorAll("tr")) {
      [...row.children].forEach((cell, i) => cell.classList.toggle("col-off", hidden.has(i)));
    }
    summary.textContent = `Columns: ${heads.length - hidden.size} of ${heads.length} shown (all when printed)`;
  };
  let box = document.querySelector(`details.columns[data-table="${id}"]`);
  if (!box) {
    box = el("details", { class: "columns", "data-table": id });
    table.before(box);
  }
  const summary = el("summary");
  const ticks = heads.map((th, i) => {
    if (fixed.includes(i)) return null;
    const tick = el("input", { type: "checkbox", "data-col": i });
    tick.checked = !hidden.has(i);
    tick.addEventListener("change", () => { if (tick.checked) hidden.delete(i); else hidden.add(i); apply(); });
    return el("label", {}, tick, ` ${th.textContent || "(select)"}`);
  }).filter(Boolean);
  box.replaceChildren(summary, el("div", { class: "column-list" }, ...ticks));
  apply();
}

/* ------------------------------------------------------------------ stored runs and comparison */

async function refreshRuns() {
  const data = await api("GET", "/api/runs?limit=200");
  state.runs = data.runs;
  const body = $("#runs-table tbody");
  if (!data.runs.length) { body.replaceChildren(el("tr", {}, el("td", { colspan: 8, text: "no stored runs yet" }))); return; }
  body.replaceChildren(...data.runs.map((r) => {
    const box = el("input", { type: "checkbox", value: r.run_id, "aria-label": `select ${r.run_id}` });
    const open = el("a", { href: "#", text: r.name || "(unnamed)" });
    open.addEventListener("click", (event) => { event.preventDefault(); showView("plant"); showRun(r.run_id); });
    const key = r.key_figures || {};
    const cost = el("td", { class: "num", text: kpiNumber("cost_cny_per_t", key.cost_cny_per_t) });
    const npv = el("td", { class: "num", text: kpiNumber("npv_cny", key.npv_cny) });
    return el("tr", { "data-run": r.run_id }, el("td", {}, box), el("td", {}, open),
      el("td", { text: (r.created_at || "").slice(0, 19).replace("T", " ") }), el("td", { text: r.status }),
      cost, npv, el("td", { text: r.files.length ? `${r.files.length}` : "–" }), el("td", {}, el("code", { text: r.run_id })));
  }));
  chooseColumns($("#runs-table"), [3, 6, 7], [0, 1]);  // status, files and run id on demand
}

async function fillComparePickers(a, b) {
  if (!state.runs) {
    try { state.runs = (await api("GET", "/api/runs?limit=200")).runs; } catch (e) { state.runs = []; }
  }
  const items = state.runs.filter((r) => r.status === "ok").map((r) =>
    [r.run_id, `${r.name || "(unnamed)"} · ${(r.created_at || "").slice(0, 16).replace("T", " ")} · ${r.run_id.slice(0, 8)}`]);
  const keepA = a || $("#compare-a").value;
  const keepB = b || $("#compare-b").value;
  fillSelect($("#compare-a"), items, keepA || (items[1] || items[0] || [])[0]);
  fillSelect($("#compare-b"), items, keepB || (items[0] || [])[0]);
}

async function compareRuns(ids) {
  const data = await api("GET", `/api/compare?${ids.map((i) => `run_ids=${encodeURIComponent(i)}`).join("&")}`);
  const head = el("tr", {}, el("th", { text: "KPI" }),
    ...data.names.map((n, i) => el("th", { class: "num", text: n || data.run_ids[i] })),
    el("th", { class: "num", text: "Δ" }), el("th", { class: "num", text: "Δ %" }));
  $("#compare-table thead").replaceChildren(head);
  const keys = CARD_KPIS;
  const rank = (kpi) => (keys.includes(kpi) ? keys.indexOf(kpi) : keys.length);
  const rows = [...data.rows].sort((a, b) => rank(a.kpi) - rank(b.kpi));
  $("#compare-table tbody").replaceChildren(...rows.map((row) => {
    const cls = row.change ? `num ${row.change}` : "num";  // by the KPI's better direction, not the sign
    return el("tr", { "data-kpi": row.kpi }, el("td", { text: kpiHeading(row.kpi) }),
      ...data.run_ids.map((id) => el("td", { class: "num", text: kpiNumber(row.kpi, row.values[id]) })),
      el("td", { class: cls, text: row.delta === null ? "" : kpiNumber(row.kpi, row.delta) }),
      el("td", { class: cls, text: row.delta_pct === null ? "" : `${row.delta_pct.toFixed(1)}` }));
  }));
  // many runs: the baseline, the last run and the differences show; the runs between on demand
  chooseColumns($("#compare-table"), data.run_ids.slice(1, -1).map((_, i) => i + 2));
  const shown = rows.filter((r) => keys.includes(r.kpi) && r.delta_pct !== null);
  if (window.Plotly) {
    Plotly.react("compare-chart", [{
      type: "bar", orientation: "h", y: shown.map((r) => kpiLabel(r.kpi)), x: shown.map((r) => r.delta_pct),
      marker: { color: shown.map((r) => (r.change === "worse" ? "#b3261e" : r.change === "better" ? "#0b6e4f" : "#8a94a6")) },
    }], { margin: { t: 30, l: 190, r: 20, b: 40 }, height: 60 + 26 * Math.max(shown.length, 1),
      title: { text: "Change of the key figures [% of the baseline; green better, red worse]", font: { size: 13 } } },
    { displaylogo: false, responsive: true });
  }
}

/* ------------------------------------------------------------------ start */

async function init() {
  for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => showView(button.dataset.view));
  const [catalog, health, registry] = await Promise.all([api("GET", "/api/catalog"), api("GET", "/api/health"), api("GET", "/api/kpis")]);
  state.catalog = catalog;
  state.kpis = Object.fromEntries(registry.kpis.map((row) => [row.key, row]));
  for (const th of document.querySelectorAll("th[data-kpi]")) th.textContent = kpiHeading(th.dataset.kpi);
  $("#version").textContent = health.version;
  $("#server").textContent = `natwin ${health.version} · ${health.workers} job process${health.workers === 1 ? "" : "es"}`;
  $("#capacity").max = catalog.limits.max_capacity_t_per_year;
  $("#mc-draws").max = catalog.limits.max_draws;

  fillSelect($("#base"), catalog.scenarios.map((s) => [s.id, s.name]));
  fillSelect($("#chemistry"), catalog.chemistries.map((c) => [c.id, `${c.id}: ${c.name}${c.has_route ? "" : " (no route yet)"}`, !c.has_route]));
  fillSelect($("#site"), catalog.sites.map((s) => [s.id, s.name]));
  const green = catalog.green_electricity;
  $("#green-source").replaceChildren(el("details", {},
    el("summary", {}, el("span", { class: "tag", text: green.tag }), "source"), el("span", { text: green.source })));
  $("#energy-box").hidden = !catalog.run_options.includes("energy");
  $("#energy").addEventListener("change", syncGreen);
  syncGreen();
  $("#simulate").parentElement.hidden = !catalog.run_options.includes("simulate");
  if (catalog.energy_targets.length) {
    $("#energy-target-box").hidden = false;
    fillSelect($("#energy-target"), [["", "(none: green share only)"], ...catalog.energy_targets.filter((t) => t !== "none").map((t) => [t, t])], "");
  }
  const sweepPaths = ["plant.capacity_t_per_year", "carbon.green_electricity_share", ...Object.keys(catalog.prices).map((name) => `prices.${name}`)];
  await loadInputLabels(sweepPaths);
  fillSelect($("#sweep-path"), sweepPaths.map((path) => [path, inputLabel(path)]));
  const sweepHint = () => {  // the green share is a fraction here (the slider shows it in %)
    $("#sweep-values").placeholder = $("#sweep-path").value === "carbon.green_electricity_share"
      ? "fractions 0-1, e.g. 0, 0.3, 0.6" : "e.g. 5000, 10000, 20000";
  };
  $("#sweep-path").addEventListener("change", sweepHint);
  sweepHint();

  $("#base").addEventListener("change", async () => {
    const name = $("#base").value;
    applyBase(await api("GET", `/api/scenarios/${encodeURIComponent(name)}`), name);
  });
  $("#chemistry").addEventListener("change", () => { fillRoutes($("#chemistry").value); autoName(); });
  $("#route").addEventListener("change", () => { showRouteFigures(); fillPrices(); autoName(); });
  for (const id of ["#capacity", "#site"]) $(id).addEventListener("change", autoName);
  $("#green").addEventListener("input", () => { $("#green-out").textContent = `${$("#green").value} %`; autoName(); });
  $("#run-name").addEventListener("input", () => { state.nameEdited = true; });
  $("#scenario-form").addEventListener("submit", (event) => { event.preventDefault(); startJob("run"); });
  $("#job-cancel").addEventListener("click", cancelJob);
  $("#run-edit").addEventListener("click", () => {  // a stored run's scenario back into the form
    const run = state.shownRunDetail;
    if (!run || !run.scenario) return;
    applyBase(clone(run.scenario), state.baseName);
    $("#run-name").value = run.name || "";
    state.nameEdited = true;
    showView("plant");
  });
  $("#study-btn").addEventListener("click", () => {  // the feasibility study of the run shown
    const run = state.shownRunDetail;
    if (!run || !run.scenario) return;
    const lang = $("#study-lang").value;
    startJob("study", { scenario: clone(run.scenario), lang, name: `${run.name || run.run_id} · study (${lang})`.slice(0, 200) });
  });
  $("#validate-btn").addEventListener("click", async () => {
    clearProblems();
    try {
      const result = await api("POST", "/api/validate", scenarioFromForm());
      $("#problems").replaceChildren(el("li", { class: "ok", style: "color: var(--good)", text: `valid (scenario ${result.scenario_hash.slice(0, 12)})` }));
    } catch (error) { showProblems(error); }
  });
  $("#toml-download").addEventListener("click", downloadScenario);
  $("#toml-upload").addEventListener("change", async () => {
    const file = $("#toml-upload").files[0];
    if (file) await uploadScenario(file);
    $("#toml-upload").value = "";  // the same file again is a new upload
  });
  fillSelect($("#sens-output"), [["npv_cny"], ["cost_cny_per_t"], ["co2_kg_per_kwh"], ["co2_kg_per_kg"]].map(([k]) => [k, kpiHeading(k)]));
  $("#sens-method").addEventListener("change", () => { $("#sens-samples-box").hidden = $("#sens-method").value !== "sobol"; });
  $("#sens-btn").addEventListener("click", () => startJob("sensitivity", { method: $("#sens-method").value,
    outputs: [$("#sens-output").value], samples: Number($("#sens-samples").value) }));
  $("#mc-btn").addEventListener("click", () => startJob("montecarlo", { draws: Number($("#mc-draws").value) }));
  $("#sweep-btn").addEventListener("click", () => {
    const values = $("#sweep-values").value.split(/[,;\s]+/).filter((v) => v !== "").map(Number);
    if (!values.length || values.some((v) => !isFinite(v))) {
      showProblems({ message: "", problems: [{ path: "sweep", value: $("#sweep-values").value, allowed: "a list of numbers, e.g. 5000, 10000, 20000" }] });
      return;
    }
    startJob("sweep", { grid: { [$("#sweep-path").value]: values } });
  });
  $("#sweep-kpi").addEventListener("change", drawSweep);
  $("#refresh-runs").addEventListener("click", refreshRuns);
  $("#compare-selected").addEventListener("click", async () => {
    const ids = [...document.querySelectorAll("#runs-table tbody input:checked")].map((b) => b.value);
    if (ids.length < 2) return;
    showView("compare");
    await fillComparePickers(ids[0], ids[1]);
    await compareRuns(ids.slice(0, 6));
  });
  $("#compare-btn").addEventListener("click", async () => {
    const a = $("#compare-a").value;
    const b = $("#compare-b").value;
    if (a && b) {
      try { await compareRuns([a, b]); } catch (error) { $("#compare-table tbody").replaceChildren(el("tr", {}, el("td", { text: error.message }))); }
    }
  });

  const defaultName = (catalog.scenarios.find((s) => s.default) || catalog.scenarios[0]).id;
  applyBase(await api("GET", `/api/scenarios/${encodeURIComponent(defaultName)}`), defaultName);

  // Pick up where the last visit left: the run shown, and the jobs still running.
  const lastRun = localStorage.getItem(KEY_RUN);
  if (lastRun) await showRun(lastRun);
  // the form shows the scenario of the results it sits beside (a reload reset the form only)
  if (state.shownRunDetail && state.shownRunDetail.scenario) {
    applyBase(clone(state.shownRunDetail.scenario), defaultName);
    $("#run-name").value = state.shownRunDetail.name || "";
    state.nameEdited = true;
  }
  const lastJob = localStorage.getItem(KEY_JOB);
  const ids = loadJobIds();
  if (ids.length) {
    try {
      const data = await api("GET", `/api/jobs?${ids.map((i) => `ids=${i}`).join("&")}`);
      for (const job of data.jobs) {
        if (job.status === "queued" || job.status === "running") poll(job.id);
        if (job.id !== lastJob) continue;
        showJob(job);  // the job shown before the reload; it may have finished meanwhile
        if (job.status === "done" && job.run_id && job.run_id !== lastRun) await showRun(job.run_id);
        if (job.status === "done" && job.sweep_id) await showSweep(job.sweep_id);
      }
    } catch (e) { /* the server may have restarted: stored runs remain */ }
  }
  updateBadge();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", () => {
  init().catch((error) => {
    $("#problems").replaceChildren(el("li", { text: `the app could not start: ${error.message}` }));
  });
});

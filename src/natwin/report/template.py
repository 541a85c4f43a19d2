"""The page skeleton and style sheet of the HTML report (no external fonts, styles or scripts).

The skeleton is a :class:`string.Template`: the report is a handful of fixed blocks, which
does not need a template engine (and a dependency) such as jinja2. Every substituted value
is HTML that :mod:`natwin.report.html` has escaped.

A Content-Security-Policy forbids every network request (``default-src 'none'``): the page
runs only its inline scripts and styles and loads nothing, so it opens offline and cannot leak
a request even if a future figure type tried to fetch something.
"""

from __future__ import annotations

from string import Template

CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'"
)

PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="$csp">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="natwin $version">
<title>$title</title>
<style>
$css
</style>
<script>
$plotly_js
</script>
</head>
<body>
<header class="masthead" id="top">
  <div class="wrap">
    <div class="kicker">natwin plant report</div>
    <h1>$plant</h1>
    <div class="subtitle">$subtitle</div>
    <div class="meta">$meta</div>
  </div>
</header>
<nav class="toc" aria-label="sections"><div class="wrap">$nav</div></nav>
<main class="wrap">
$sections
</main>
<footer class="wrap">$footer</footer>
<script>
$reveal_js
</script>
</body>
</html>
"""
)

#: Opens the folded block (``<details>``, e.g. the sources list) that holds the target of a link,
#: before the browser scrolls to it, and on loading a page whose address names such a target; and
#: opens every folded block while the page prints (the cash-flow table, settings, parameters and
#: sources were missing from a printed report); and works the column choosers of wide tables.
REVEAL_JS = """
(function () {
  function reveal(id) {
    var target = id && document.getElementById(id);
    for (var d = target && target.closest('details'); d; d = d.parentElement && d.parentElement.closest('details')) {
      d.open = true;
    }
    return target;
  }
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('a[href^="#"]');
    if (link) reveal(decodeURIComponent(link.getAttribute('href').slice(1)));
  });
  window.addEventListener('hashchange', function () {
    var target = reveal(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView();
  });
  if (location.hash) {
    var target = reveal(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView();
  }
  // a printed report shows every table: folded blocks open for printing, close again after
  var folded = [];
  window.addEventListener('beforeprint', function () {
    folded = Array.prototype.filter.call(document.querySelectorAll('details'), function (d) { return !d.open; });
    folded.forEach(function (d) { d.open = true; });
  });
  window.addEventListener('afterprint', function () {
    folded.forEach(function (d) { d.open = false; });
    folded = [];
  });
  // a wide table's column chooser: a tick shows or hides its column (a printout shows all)
  document.addEventListener('change', function (event) {
    var box = event.target;
    var chooser = box.closest && box.closest('details.columns');
    if (!chooser || !box.hasAttribute('data-col')) return;
    var table = chooser.parentElement.querySelector('table');
    var cells = table.querySelectorAll('[data-col="' + box.getAttribute('data-col') + '"]');
    Array.prototype.forEach.call(cells, function (cell) { cell.classList.toggle('col-off', !box.checked); });
    var shown = 1 + chooser.querySelectorAll('input[data-col]:checked').length;
    chooser.querySelector('.shown').textContent = String(shown);
  });
})();
"""

CSS = """
:root {
  --ink: #1f2d3d; --muted: #66768a; --line: #e2e7ee; --bg: #f3f5f8; --accent: #1f6feb;
  --navy: #14213d; --process: #1f6feb; --money: #2e9e44; --carbon: #8e2c2c;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body {
  margin: 0; background: var(--bg); color: var(--ink); font-size: 14px; line-height: 1.45;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
    "Liberation Sans", sans-serif;
}
[id] { scroll-margin-top: 56px; }
.wrap { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
a { color: var(--accent); }
.masthead { background: linear-gradient(120deg, #14213d 0%, #22406b 100%); color: #fff;
  padding: 26px 0 22px; }
.masthead .kicker { text-transform: uppercase; letter-spacing: .12em; font-size: 11px; opacity: .7; }
.masthead h1 { margin: 4px 0 2px; font-size: 26px; font-weight: 600; }
.masthead .subtitle { opacity: .85; }
.meta { display: flex; flex-wrap: wrap; gap: 6px 26px; margin-top: 14px; font-size: 12.5px; }
.meta span b { display: block; font-weight: 600; font-size: 10.5px; letter-spacing: .08em;
  text-transform: uppercase; opacity: .6; }
.meta code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
nav.toc { position: sticky; top: 0; z-index: 20; background: #fff; border-bottom: 1px solid var(--line);
  box-shadow: 0 1px 4px rgba(20, 33, 61, .06); }
nav.toc .wrap { display: flex; gap: 2px; overflow-x: auto; }
nav.toc a { padding: 11px 10px 9px; color: var(--muted); text-decoration: none; white-space: nowrap;
  font-size: 13px; border-bottom: 2px solid transparent; }
nav.toc a:hover { color: var(--ink); border-bottom-color: var(--accent); }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px 22px;
  margin: 18px 0; }
section h2 { font-size: 19px; margin: 0 0 2px; font-weight: 600; }
section h3 { font-size: 14px; margin: 22px 0 8px; font-weight: 600; }
p.lead { color: var(--muted); margin: 0 0 14px; max-width: 900px; }
ul.summary { margin: 6px 0 4px; padding-left: 20px; max-width: 900px; }
ul.summary li { margin: 0 0 8px; }
ul.summary a.more { text-decoration: none; font-size: 12px; }
p.verdict { margin: 0 0 10px; max-width: 900px; padding: 8px 12px; border-left: 4px solid var(--muted); }
div.warnings { margin: 0 0 10px; max-width: 900px; padding: 8px 12px; border-left: 4px solid #ef6c00; background: #fff8e1; }
div.warnings ul { margin: 4px 0 0; padding-left: 20px; }
p.verdict-viable { border-color: #2e7d32; } p.verdict-not_viable { border-color: #c62828; } p.verdict-marginal { border-color: #ef6c00; }
.group-title { font-size: 11.5px; text-transform: uppercase; letter-spacing: .08em; color: var(--muted);
  margin: 16px 0 8px; font-weight: 600; }
.group-title:first-of-type { margin-top: 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-top: 3px solid var(--process); border-radius: 8px;
  padding: 11px 14px 10px; background: #fff; position: relative; }
.card.money { border-top-color: var(--money); }
.card.carbon { border-top-color: var(--carbon); }
.card .label { font-size: 11.5px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted);
  font-weight: 600; }
.card .value { font-size: 25px; font-weight: 600; margin-top: 3px; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
.card .unit { font-size: 13px; color: var(--muted); font-weight: 400; margin-left: 3px; }
.card .note { font-size: 12px; color: var(--muted); margin-top: 4px; }
.card .note a.more { text-decoration: none; }
figure { margin: 0 0 6px; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 4px; }
.grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 24px; }
@media (max-width: 960px) { .grid2 { grid-template-columns: 1fr; } }
.table-wrap { overflow-x: auto; }
table.data { width: 100%; border-collapse: collapse; font-size: 13px; }
table.data th { text-align: left; font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line);
  padding: 6px 8px; font-size: 12px; vertical-align: bottom; }
table.data td { padding: 5px 8px; border-bottom: 1px solid #eef1f5; vertical-align: top; }
table.data .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data tbody tr:hover { background: #f6f9fd; }
table.data tr.total td { font-weight: 600; border-top: 2px solid var(--line); border-bottom: none; }
table.data tr.stale td { color: #9a3412; }
table.data tr.group td { background: #f7f8fa; font-weight: 600; color: var(--muted); font-size: 12px; }
.small { font-size: 12px; color: var(--muted); }
table.data td .sub { display: block; font-size: 12px; color: var(--muted); }
table.years td:first-child { min-width: 250px; }
table.wide-first td:first-child { min-width: 270px; }
table.years td, table.years th { padding: 4px 6px; font-size: 12px; }
ul.notes { font-size: 12px; color: var(--muted); margin: 10px 0 0; padding-left: 18px; }
.formula { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
sup.refs { font-size: 10.5px; line-height: 0; }
sup.refs a { white-space: nowrap; }
sup.refs a { text-decoration: none; padding: 0 1px; }
sup.refs a:hover { text-decoration: underline; }
.tag { display: inline-block; min-width: 24px; text-align: center; border-radius: 4px; font-size: 10.5px;
  font-weight: 700; padding: 1px 5px; color: #fff; background: #7f8c8d; vertical-align: 1px; }
.tag-F { background: #2e9e44; } .tag-F2 { background: #17a2a2; } .tag-C { background: #4c78a8; }
.tag-M { background: #c9940a; } .tag-E { background: #e4572e; } .tag-S { background: #6c5ce7; }
.legend-tags { font-size: 12px; color: var(--muted); display: flex; flex-wrap: wrap; gap: 4px 16px;
  margin-bottom: 12px; }
ol.sources { padding-left: 0; list-style: none; margin: 0; }
ol.sources li { display: grid; grid-template-columns: 44px 34px minmax(0, 1fr); gap: 6px; padding: 6px 6px;
  border-bottom: 1px solid #eef1f5; font-size: 13px; }
ol.sources li:target { background: #fff6d5; }
ol.sources .n { color: var(--muted); font-variant-numeric: tabular-nums; text-align: right; }
ol.sources .uses { font-size: 12px; color: var(--muted); margin-top: 2px; }
ol.sources .uses code { font-size: 11.5px; }
ol.sources li > div, .meta span, p, li, figcaption, td, footer { overflow-wrap: anywhere; }
table.data td.num { overflow-wrap: normal; }
details > summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
.absent { color: var(--muted); font-size: 12.5px; font-style: italic; }
footer { color: var(--muted); font-size: 12px; padding: 8px 24px 40px; }
@media (max-width: 600px) {
  .wrap { padding: 0 10px; }
  section { padding: 14px 12px 16px; border-radius: 6px; }
  ol.sources li { grid-template-columns: 32px 30px minmax(0, 1fr); gap: 4px; }
  .cards { grid-template-columns: minmax(0, 1fr); }
}
table.choosable .col-off { display: none; }
details.columns { font-size: 12.5px; margin: 4px 0; }
details.columns .column-list { display: flex; flex-wrap: wrap; gap: 2px 14px; padding: 4px 0 8px; }
details.columns label { white-space: nowrap; cursor: pointer; }
@media print {
  table.choosable .col-off { display: table-cell; }
  details.columns { display: none; }
  nav.toc { display: none; }
  body { background: #fff; }
  section { border: none; break-inside: avoid-page; padding: 8px 0; }
}
"""

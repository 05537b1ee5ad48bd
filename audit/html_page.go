package audit

// The fixed parts of the HTML report: the page head up to the title text, the style sheet up
// to the heading text, and the script that sorts the tables, with the end of the page. They are
// byte for byte what the html/template version of the report rendered (testdata/html holds
// that output), including the two-space lines in the script where html/template dropped its
// comments. What those script blocks do:
//   - #sort=KEY or #sort=KEY-desc in the URL sorts the inventory on load, for links into a
//     report;
//   - each chart whose bars were laid out with a size is marked data-rendered="true", so that
//     a headless check of the DOM can tell the chart rendered.

const htmlHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>HostProcess audit of `

const htmlStyle = `</title>
<style>
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; margin: 24px; color: #1f2328; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
p.meta { color: #59636e; margin: 0 0 12px; }
p.headline { font-size: 16px; font-weight: bold; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.card { border: 1px solid #d1d9e0; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.card .n { font-size: 22px; font-weight: bold; }
.card.bad .n { color: #cf222e; }
.charts { display: flex; gap: 32px; flex-wrap: wrap; }
.chart h2 { margin-top: 8px; }
svg.chart text { font-size: 12px; fill: #1f2328; }
svg.chart rect.bar { fill: #0969da; }
svg.chart.violations rect.bar { fill: #cf222e; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #d1d9e0; padding: 4px 8px; text-align: left; vertical-align: top; overflow-wrap: break-word; }
td.nowrap, td.status { white-space: nowrap; }
td.images { min-width: 180px; overflow-wrap: anywhere; }
td.violations { min-width: 260px; }
th { background: #f6f8fa; cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " \25B2"; }
th[aria-sort="descending"]::after { content: " \25BC"; }
td.num { text-align: right; }
tr.violating td.status { color: #cf222e; font-weight: bold; }
tr.exempt td.status { color: #9a6700; }
tr.compliant td.status { color: #1a7f37; }
td ul { margin: 0; padding-left: 16px; }
code { font-family: "Liberation Mono", Consolas, monospace; font-size: 12px; }
.empty { color: #59636e; }
</style>
</head>
<body>
<h1>HostProcess audit of `

const htmlScript = `<script>
(function () {
  "use strict";
  function cellValue(row, col, numeric) {
    var cell = row.cells[col];
    var v = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    return numeric ? Number(v) : v;
  }
  function sortTable(th, ascending) {
    var table = th.closest("table");
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-type") === "number";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, col, numeric), y = cellValue(b, col, numeric);
      var c = numeric ? x - y : String(x).localeCompare(String(y));
      return ascending ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable th"), function (th) {
    th.addEventListener("click", function () {
      sortTable(th, th.getAttribute("aria-sort") !== "ascending");
    });
  });
  
  var m = /^#sort=([a-z]+)(-desc)?$/.exec(location.hash);
  if (m) {
    var th = document.querySelector('#inventory th[data-key="' + m[1] + '"]');
    if (th) { sortTable(th, !m[2]); }
  }
  
  
  Array.prototype.forEach.call(document.querySelectorAll("svg.chart"), function (svg) {
    var bars = svg.querySelectorAll("rect.bar");
    var ok = bars.length > 0;
    Array.prototype.forEach.call(bars, function (b) {
      var box = b.getBBox();
      if (!(box.width > 0 && box.height > 0)) { ok = false; }
    });
    svg.setAttribute("data-rendered", ok ? "true" : "false");
  });
})();
</script>
</body>
</html>

`

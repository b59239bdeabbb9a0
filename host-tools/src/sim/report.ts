import { ENERGY_CATEGORIES } from "./energy";
import { SimulationResult } from "./run";

/**
 * The simulation report: one self-contained HTML page (inline CSS and SVG, no scripts, no network) with the
 * metrics, distance and RSSI over time for the pair that spent longest within 2 m, a detection matrix (ground
 * truth minutes within 2 m vs minutes the band logged near) and the energy breakdown per board.
 */
export function renderReport(r: SimulationResult): string {
  const d = r.detection;
  const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`);
  const rows = (pairs: [string, string][]) =>
    pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("");
  const summary = rows([
    ["Scenario", `${r.scenario.name}: ${r.scenario.description}`],
    ["Simulated", `${r.scenario.hours.toFixed(1)} h, radio environment "${r.scenario.environment}", seed ${r.seed}`],
    [
      "People",
      Object.entries(r.scenario.people)
        .map(([k, v]) => count(v, k))
        .join(", "),
    ],
    ["Run", `${r.run.wallSeconds} s wall time, ${r.run.speedup}x real time`],
    [
      "Close contacts (truth)",
      `${count(r.groundTruth.closeContactPairs, "pair")} >= 15 min within 2 m; ${r.groundTruth.bandCloseContacts} seen from a band's side with a peer that advertises; ${count(r.groundTruth.shortExposures, "shorter exposure")} (5-15 min)`,
    ],
    [
      "Detection",
      d.available
        ? `recall ${pct(d.recall)}, precision ${pct(d.precision)} (attenuation <= ${d.attenuationThresholdDb} dB); any sighting ${pct(d.anySightingRecall)}; short exposures sighted ${pct(d.shortExposureSightingRate)}`
        : `not available: ${d.reason}`,
    ],
    [
      "Faults",
      r.faults.count
        ? `${r.faults.count}: ${r.faults.first.map((f) => `${f.device} ${f.kind}: ${f.message}`).join("; ")}`
        : "none",
    ],
    [
      "Fault injection",
      `${r.injected.powerCuts} power cuts, ${r.injected.clockJumps} clock jumps, flash full: ${r.injected.flashFull}, hostile: ${r.injected.hostile.join(", ") || "none"}`,
    ],
  ]);
  const boards = r.boards
    .map(
      (b) =>
        `<tr><td>${esc(b.board)}</td><td>${b.bands}</td><td>${b.averageUa}</td><td>${b.batteryDays}</td><td>${b.peakJsVars} / ${b.jsVars}</td><td>${b.logBytesPerDay}</td><td>${b.logBudgetBytes}</td><td>${b.projectedLogDays ?? "n/a"}</td><td>${b.scanPeriodS ?? "n/a"}</td></tr>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tracelet simulation: ${esc(r.scenario.name)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}h2{margin-top:2em}svg{background:#fff;border:1px solid #ddd;max-width:100%;height:auto}
.legend span{display:inline-block;margin-right:1em}
.sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle;box-sizing:border-box}
.sw.empty{border:1px solid #bbb}
</style></head><body>
<h1>Tracelet simulation: ${esc(r.scenario.name)}</h1>
<table>${summary}</table>
<h2>Per board</h2>
<table><tr><th>board</th><th>bands</th><th>average uA</th><th>battery days</th><th>peak JsVars</th><th>log bytes/day</th><th>log budget</th><th>log full after (days)</th><th>scan period (s)</th></tr>${boards}</table>
<h2>Distance and RSSI over time</h2>
${pairPlot(r)}
<h2>Detection matrix</h2>
${matrixPlot(r)}
<h2>Energy breakdown</h2>
${energyPlot(r)}
</body></html>
`;
}

/** Width of a character of the matrix labels (9 px sans-serif), rounded up so that no label is cut. */
const MATRIX_CHAR_PX = 5.5;

/** An SVG drawn at W x H that shrinks with the page (CSS max-width) instead of running off a narrow window. */
function svgOpen(W: number, H: number): string {
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg">`;
}

/** "1 band", "12 bands". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function esc(s: string): string {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);
}

function pairPlot(r: SimulationResult): string {
  const tr = r.trace;
  if (!tr.pair) return "<p>No band spent time near anyone who advertises.</p>";
  const W = 1000;
  const H = 320;
  const L = 50;
  const R = 50;
  const T = 20;
  const B = 30;
  const end = r.run.simulatedSeconds;
  const x = (t: number) => L + (t / end) * (W - L - R);
  const dMax = Math.min(20, Math.max(4, ...tr.distance.map((p) => p.d).filter((d) => d < 50)));
  const yd = (d: number) => T + (Math.min(d, dMax) / dMax) * (H - T - B);
  const rMin = -100;
  const rMax = -40;
  const yr = (v: number) => T + ((rMax - v) / (rMax - rMin)) * (H - T - B);
  const dist = tr.distance.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${yd(p.d).toFixed(1)}`).join("");
  const dots = tr.rssi
    .map(
      (p) => `<circle cx="${x(p.t).toFixed(1)}" cy="${yr(p.rssi).toFixed(1)}" r="1.2" fill="#d62728" opacity="0.5"/>`,
    )
    .join("");
  const hours: string[] = [];
  for (let h = 0; h * 3600 <= end; h += end > 2 * 86400 ? 12 : end > 36000 ? 2 : 1) {
    hours.push(
      `<line x1="${x(h * 3600)}" x2="${x(h * 3600)}" y1="${T}" y2="${H - B}" stroke="#eee"/><text x="${x(h * 3600)}" y="${H - 10}" font-size="10" text-anchor="middle">${h}h</text>`,
    );
  }
  const two = yd(2);
  return `<p>${esc(tr.pair[0])} (band) and ${esc(tr.pair[1])}: distance (blue, left axis, 0-${dMax.toFixed(0)} m, 2 m dashed) and RSSI of each packet the band received from it (red, right axis, ${rMax} to ${rMin} dBm).</p>
${svgOpen(W, H)}
${hours.join("")}
<line x1="${L}" x2="${W - R}" y1="${two}" y2="${two}" stroke="#1f77b4" stroke-dasharray="4 3" opacity="0.6"/>
<path d="${dist}" fill="none" stroke="#1f77b4" stroke-width="1.2"/>
${dots}
<text x="5" y="${T + 10}" font-size="10">0 m</text><text x="5" y="${H - B}" font-size="10">${dMax.toFixed(0)} m</text>
<text x="${W - R + 5}" y="${T + 10}" font-size="10">${rMax}</text><text x="${W - R + 5}" y="${H - B}" font-size="10">${rMin}</text>
</svg>`;
}

function matrixPlot(r: SimulationResult): string {
  const m = r.matrix;
  if (!m.bands.length || !m.peers.length) return "<p>No data.</p>";
  const cell = 14;
  // Column labels are rotated 60 degrees up and to the right: room above and beyond the last column for the longest.
  const labelPx = Math.max(...m.peers.map((p) => p.length)) * MATRIX_CHAR_PX;
  const L = 10 + Math.ceil(Math.max(...m.bands.map((b) => b.length)) * MATRIX_CHAR_PX);
  const T = 10 + Math.ceil(labelPx * Math.sin(Math.PI / 3));
  const W = L + m.peers.length * cell + 10 + Math.ceil(labelPx * Math.cos(Math.PI / 3));
  const H = T + m.bands.length * cell + 10;
  const rects: string[] = [];
  m.cells.forEach((row, i) =>
    row.forEach((c, j) => {
      const truth = c.truth >= 15;
      const det = c.logged >= 15;
      const color =
        truth && det
          ? "#2ca02c"
          : truth
            ? "#d62728"
            : det
              ? "#ff7f0e"
              : c.truth > 0 || c.logged > 0
                ? "#e8e8e8"
                : "#fff";
      rects.push(
        `<rect x="${L + j * cell}" y="${T + i * cell}" width="${cell - 1}" height="${cell - 1}" fill="${color}"><title>${esc(m.bands[i])} saw ${esc(m.peers[j])}: ${c.truth} min within 2 m, ${c.logged} min logged near</title></rect>`,
      );
    }),
  );
  const rowLabels = m.bands
    .map((b, i) => `<text x="${L - 4}" y="${T + i * cell + 10}" font-size="9" text-anchor="end">${esc(b)}</text>`)
    .join("");
  const colLabels = m.peers
    .map(
      (p, j) =>
        `<text x="${L + j * cell + 9}" y="${T - 4}" font-size="9" transform="rotate(-60 ${L + j * cell + 9} ${T - 4})">${esc(p)}</text>`,
    )
    .join("");
  return `<p class="legend"><span><i class="sw" style="background:#2ca02c"></i>close contact detected</span><span><i class="sw" style="background:#d62728"></i>missed</span><span><i class="sw" style="background:#ff7f0e"></i>false alarm</span><span><i class="sw" style="background:#e8e8e8"></i>some contact, below 15 min</span><span><i class="sw empty" style="background:#fff"></i>no contact</span> (rows: bands; columns: people they met most; hover for minutes)</p>
${svgOpen(W, H)}${rowLabels}${colLabels}${rects.join("")}</svg>`;
}

function energyPlot(r: SimulationResult): string {
  const colors = ["#7f7f7f", "#1f77b4", "#17becf", "#d62728", "#9467bd", "#ff7f0e"];
  const W = 700;
  const bar = 28;
  const L = 110;
  // Room after the longest bar for its "81.9 uA, 111.9 days" label.
  const labelW = 10 + Math.max(...r.boards.map((b) => `${b.averageUa} uA, ${b.batteryDays} days`.length)) * 7.5;
  const max = Math.max(1, ...r.boards.map((b) => b.averageUa));
  const H = 20 + r.boards.length * (bar + 12);
  const bars = r.boards
    .map((b, i) => {
      let x = L;
      const y = 10 + i * (bar + 12);
      const segs = ENERGY_CATEGORIES.map((c, k) => {
        const w = (b.breakdownUa[c] / max) * (W - L - labelW);
        const s = `<rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(0, w).toFixed(1)}" height="${bar}" fill="${colors[k]}"><title>${c}: ${b.breakdownUa[c]} uA</title></rect>`;
        x += w;
        return s;
      }).join("");
      return `<text x="${L - 6}" y="${y + bar / 2 + 4}" font-size="12" text-anchor="end">${esc(b.board)}</text>${segs}<text x="${x + 6}" y="${y + bar / 2 + 4}" font-size="12">${b.averageUa} uA, ${b.batteryDays} days</text>`;
    })
    .join("");
  const legend = ENERGY_CATEGORIES.map(
    (c, k) => `<span><i class="sw" style="background:${colors[k]}"></i>${c}</span>`,
  ).join("");
  return `<p class="legend">${legend}</p>${svgOpen(W, H)}${bars}</svg>`;
}

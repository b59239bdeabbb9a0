import { StoryResult } from "./story";

/**
 * The demo's report: one self-contained HTML page (inline CSS and SVG, no scripts, no network), readable from 700 px
 * wide: what was found against the ground truth, the story's timeline, what was uploaded where, every band, and
 * per-board energy, memory and log retention from the simulation.
 */
export function renderStoryReport(r: StoryResult): string {
  const close = new Set(r.truth.closeContacts);
  const f1 = r.found.authority;
  const f1Set = new Set(f1?.contacts ?? []);
  const found = new Set(r.found.kiosk);
  const far = new Set(r.truth.neverNear);
  const verdict = (person: string) => {
    if (person === r.f0.person) return `<span class="tag f0">F0: tested positive</span>`;
    if (close.has(person) && found.has(person)) return `<span class="tag ok">close contact, found</span>`;
    if (close.has(person)) return `<span class="tag bad">close contact, missed</span>`;
    if (far.has(person) && found.has(person)) return `<span class="tag bad">never near, found (false)</span>`;
    if (found.has(person)) return `<span class="tag warn">found, not a close contact (false)</span>`;
    if (far.has(person)) return `<span class="tag ok">never near (other wing), not found</span>`;
    return `<span class="tag ok">not a close contact, not found</span>`;
  };
  const when = (unix: number) => new Date(unix * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
  const f1Line = f1
    ? ` The authority's F1 list (escrow): ${f1.contacts.length} bands, ${f1.missed.length} true close contacts missing, ${f1.falseFound.length} false.`
    : "";
  const headline = `${r.found.kiosk.filter((p) => close.has(p)).length} of ${r.truth.closeContacts.length} true close contacts of ${esc(r.f0.person)} found by the kiosk, ${r.found.missed.length} missed; ${r.truth.nonContacts.filter((p) => !found.has(p)).length} of ${r.truth.nonContacts.length} residents who were not close contacts not reported (${r.found.falseFound.length} false); ${r.lost} synced log units lost`;
  const bands = r.bands
    .map(
      (b) =>
        `<tr><td>${esc(b.person)}</td><td><code>${esc(b.bandId)}</code></td><td>${verdict(b.person)}</td><td>${b.matchedDays} / ${b.riskyDays}</td><td>${b.followUp ? `yes: ${esc(b.followUpReasons.join(", "))}` : "no"}</td>${f1 ? `<td>${f1Set.has(b.person) ? "yes" : "no"}</td>` : ""}<td>${b.storedUnits} (${b.bandUnits} on the band)</td><td>${b.flashSeconds.toFixed(1)} s, ${b.healthy ? "healthy" : "unhealthy"}</td><td>${b.faults}</td></tr>`,
    )
    .join("");
  const timeline = r.timeline
    .map((e) => `<tr><td>${when(e.at)}</td><td>${e.wall.toFixed(1)} s</td><td>${esc(e.what)}</td></tr>`)
    .join("");
  const c = r.uploads.authorityCounts;
  const uploads = rows([
    [
      "Flasher → authority",
      `${r.bands.length} bands registered (band id, board, sync key) in the band registry at ${r.authority.url}; label sheet ${r.labels}`,
    ],
    [
      "Kiosk ← bands",
      `${r.bands.filter((b) => b.synced).length} bands synced over the simulator's Bluetooth; ${r.bands.reduce((s, b) => s + b.storedUnits, 0)} log units kept in the kiosk's store (${r.kiosk.dataDir}), nothing sent anywhere for residents who are not positive`,
    ],
    [
      "Kiosk → authority (registry)",
      "the kiosk downloaded the band registry (sync keys) and reported each band's health",
    ],
    [
      "Kiosk → authority (positive)",
      `${r.f0.person}'s ${r.uploads.keys} daily keys (${r.uploads.keyDays.join(", ")}) with the verification code, and its encounter log (${r.uploads.logPages} pages, ${r.uploads.logBytes} bytes)`,
    ],
    [
      "Authority database",
      `${r.authority.database}: ${Object.entries(c)
        .map(([k, v]) => `${k} ${v}`)
        .join(
          ", ",
        )} (${r.authority.deployment} deployment${r.authority.deployment === "private" ? ": the authority cannot resolve a log to bands, so there is no F1 list; the kiosks do the matching" : ""})`,
    ],
    [
      "Authority → kiosk",
      `diagnosis-key export: ${r.uploads.exportFiles} files, ${r.uploads.newKeys} new keys; the kiosk re-checked every stored log`,
    ],
  ]);
  const boards = r.boards
    .map(
      (b) =>
        `<tr><td>${esc(b.board)}</td><td>${b.bands}</td><td>${b.averageUa}</td><td>${b.batteryDays}</td><td>${b.peakJsVars} / ${b.jsVars}</td><td>${b.logBytesUsed}</td><td>${b.logBytesPerDay}</td><td>${b.logBudgetBytes}</td><td>${b.projectedLogDays ?? "n/a"}</td></tr>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Tracelet demo: ${esc(r.scenario.name)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:1em 0;width:100%}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}h2{margin-top:1.8em}code{font-size:12px}
.wrap{overflow-x:auto}
.headline{font-size:17px;padding:.6em .9em;border-left:6px solid ${r.found.missed.length || r.found.falseNeverNear.length || r.lost ? "#c0392b" : "#27ae60"};background:#f7f7f7}
.tag{display:inline-block;padding:1px 6px;border-radius:3px;background:#eee;white-space:nowrap}
.tag.ok{background:#d5f5e3}.tag.bad{background:#f5b7b1}.tag.warn{background:#fdebd0}.tag.f0{background:#d6eaf8}
svg{max-width:100%;height:auto}
</style></head><body>
<h1>Tracelet demo: the whole story</h1>
<p>${esc(r.scenario.description)}. ${r.bands.length} ${esc(r.board)} bands flashed by the flasher, ${(r.scenario.hours / 24).toFixed(1)} simulated days, seed ${r.seed}, ${r.wallSeconds} s wall time.</p>
<p class="headline">${headline}.${esc(f1Line)}</p>
<h2>Who was found</h2>
<p>Ground truth: a close contact is another resident who spent at least 15 minutes within 2 m of ${esc(r.f0.person)} on one day (the simulator knows every position). ${r.truth.neverNear.length ? `Residents of the other wing (${esc(r.truth.neverNear.join(", "))}) never came within 4 m of ${esc(r.f0.person)}: none of them may be reported. ` : ""}Found: the kiosk matched ${esc(r.f0.person)}'s published keys in the resident's synced log and scored the day as risky (it goes on the follow-up list). Matched days / risky days per band (a match without a risky day can come from the few minutes in the queue at the kiosk).${
    r.truth.phoneContacts.length
      ? ` ${r.truth.phoneContacts.length} staff phones were close contacts too (${esc(r.truth.phoneContacts.join(", "))}): their own exposure-notification apps match the same published keys.`
      : ""
  }</p>
<div class="wrap"><table><tr><th>resident</th><th>band</th><th>verdict</th><th>matched / risky days</th><th>follow-up</th>${f1 ? "<th>authority's F1 list</th>" : ""}<th>log units at the kiosk</th><th>flashed</th><th>faults</th></tr>${bands}</table></div>
<h2>Timeline</h2>
<div class="wrap"><table><tr><th>world time</th><th>wall</th><th>what happened</th></tr>${timeline}</table></div>
<h2>What was uploaded where</h2>
<div class="wrap"><table>${uploads}</table></div>
<h2>Per board: energy, memory, retention</h2>
<div class="wrap"><table><tr><th>board</th><th>bands</th><th>average µA</th><th>battery days</th><th>peak JsVars</th><th>log bytes</th><th>log bytes/day</th><th>log budget</th><th>log full after (days)</th></tr>${boards}</table></div>
${energyBars(r)}
<p>Kiosk page while the demo runs: <a href="${esc(r.kiosk.url)}">${esc(r.kiosk.url)}</a>.</p>
</body></html>
`;
}

const COLORS = ["#95a5a6", "#3498db", "#9b59b6", "#e67e22", "#e74c3c", "#27ae60", "#f1c40f"];

function energyBars(r: StoryResult): string {
  const W = 640;
  const rowH = 26;
  const parts = r.boards.map((b) => Object.entries(b.breakdownUa));
  const max = Math.max(1, ...r.boards.map((b) => b.averageUa));
  const H = r.boards.length * rowH + 40;
  let out = `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">`;
  r.boards.forEach((b, i) => {
    let x = 90;
    out += `<text x="4" y="${i * rowH + 17}">${esc(b.board)}</text>`;
    for (const [k, v] of parts[i]) {
      const w = (v / max) * (W - 160);
      out += `<rect x="${x.toFixed(1)}" y="${i * rowH + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${COLORS[Object.keys(b.breakdownUa).indexOf(k) % COLORS.length]}"><title>${esc(k)}: ${v} µA</title></rect>`;
      x += w;
    }
    out += `<text x="${(x + 4).toFixed(1)}" y="${i * rowH + 17}">${b.averageUa} µA</text>`;
  });
  const keys = r.boards.length ? Object.keys(r.boards[0].breakdownUa) : [];
  let x = 4;
  keys.forEach((k, j) => {
    const y = r.boards.length * rowH + 20;
    out += `<rect x="${x}" y="${y}" width="10" height="10" fill="${COLORS[j % COLORS.length]}"/><text x="${x + 14}" y="${y + 9}">${esc(k)}</text>`;
    x += 24 + Math.ceil(k.length * 5.5);
  });
  return out + "</svg>";
}

function rows(pairs: [string, string][]): string {
  return pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("");
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch] ?? ch);
}

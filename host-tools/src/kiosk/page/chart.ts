import type { Exposure } from "./client";
import { formatDay, t } from "./i18n";

const SVG = "http://www.w3.org/2000/svg";
const DAYS = 21;

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function dayString(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The staff's exposure timeline of one band: a bar per UTC day for the 21 days up to `endDay` (the band's last
 * copy), its height the day's weighted minutes near people who later tested positive, red when the day counts as a
 * possible exposure. The same figures follow as a table for screen readers and for exact numbers.
 */
export function timeline(exposures: Exposure[], endDay: string): HTMLElement {
  const figure = document.createElement("figure");
  figure.className = "timeline";
  const end = Date.parse(endDay + "T00:00:00Z");
  const byDay = new Map(exposures.map((e) => [e.day, e]));
  const days = Array.from({ length: DAYS }, (_, i) => dayString(end - (DAYS - 1 - i) * 86_400_000));
  const max = Math.max(15, ...exposures.map((e) => e.detail.weightedMinutes ?? 0));
  const W = 630;
  const H = 160;
  const base = 130;
  const risky = exposures.filter((e) => e.risky).map((e) => formatDay(e.day));
  const chart = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": `${t("detail.timeline")}: ${risky.length ? `${t("detail.risk")}: ${risky.join(", ")}` : t("detail.timelineEmpty")}`,
  });
  chart.appendChild(svg("line", { x1: 0, y1: base, x2: W, y2: base, class: "axis" }));
  const step = W / DAYS;
  days.forEach((day, i) => {
    const e = byDay.get(day);
    const minutes = e?.detail.weightedMinutes ?? 0;
    if (minutes > 0) {
      const h = Math.max(3, (minutes / max) * (base - 10));
      const bar = svg("rect", {
        x: i * step + 4,
        y: base - h,
        width: step - 8,
        height: h,
        class: e?.risky ? "day-bar risky" : "day-bar",
      });
      const title = svg("title", {});
      title.textContent = `${formatDay(day)}: ${Math.round(minutes)}`;
      bar.appendChild(title);
      chart.appendChild(bar);
    }
    if (i % 5 === 0 || i === DAYS - 1) {
      // The first and last labels align with the chart's edges so that no text reaches past them.
      const anchor = i === 0 ? "start" : i === DAYS - 1 ? "end" : "middle";
      const x = i === 0 ? 0 : i === DAYS - 1 ? W : i * step + step / 2;
      const label = svg("text", { x, y: H - 8, "text-anchor": anchor, class: "tick" });
      label.textContent = formatDay(day);
      chart.appendChild(label);
    }
  });
  figure.appendChild(chart);
  const caption = document.createElement("figcaption");
  caption.textContent = t("detail.timelineHelp");
  figure.appendChild(caption);
  return figure;
}

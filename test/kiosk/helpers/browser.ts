import * as fs from "fs";
import * as path from "path";
import { Browser, chromium, Page } from "playwright-core";
import { ROOT } from "../../helpers/paths";

/** Debian's chromium (CI installs it in .ci/run); CHROMIUM overrides. */
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.join(ROOT, "reports", "screenshots");

/** The two screens the kiosk runs on. */
export const SIZES = {
  laptop: { width: 1366, height: 768 },
  tablet: { width: 800, height: 1280 },
} as const;
export type Size = keyof typeof SIZES;

export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM to a Chromium binary)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ["--disable-gpu", "--lang=en-GB"] });
}

/** Console errors and page errors (a CSP refusal shows up here), collected to assert that there were none. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

export interface AxeFinding {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

const AXE = fs.readFileSync(path.join(ROOT, "node_modules", "axe-core", "axe.min.js"), "utf8");

/**
 * axe-core on the page as it is now (WCAG 2.1 A and AA rules and axe's best practices). Injected through the
 * debugging protocol, which the page's CSP does not apply to.
 */
export async function axe(page: Page): Promise<AxeFinding[]> {
  await page.evaluate(AXE);
  return page.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((r) =>
    r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) })))`);
}

// The functions below run in the page; they are strings because the tests' TypeScript has Node's types, not the DOM's.

/** Visible elements reaching past the viewport's left or right edge (none may: nothing scrolls sideways). */
export async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    if (document.documentElement.scrollWidth > width) out.push("document " + document.documentElement.scrollWidth + "px");
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.left < -0.5 || r.right > width + 0.5) {
        const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + (el.getAttribute("class") || "").replace(/ /g, ".");
        out.push(name + " [" + Math.round(r.left) + ", " + Math.round(r.right) + "] > " + width);
      }
    }
    return out;
  })()`);
}

/** The computed font size (px) of the first element matching `selector`. */
export async function fontSize(page: Page, selector: string): Promise<number> {
  return page.evaluate(`parseFloat(getComputedStyle(document.querySelector(${JSON.stringify(selector)})).fontSize)`);
}

/** Starts recording every version of each band's queue card the page renders ("bandId:state", in order). */
export async function recordCardStates(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    window.cardStates = [];
    new MutationObserver((records) => {
      for (const r of records)
        for (const n of r.addedNodes) {
          if (!(n instanceof HTMLElement)) continue;
          for (const li of [n, ...n.querySelectorAll("li[data-band]")])
            if (li.matches("li[data-band]")) window.cardStates.push(li.dataset.band + ":" + li.dataset.state);
        }
    }).observe(document.getElementById("main"), { childList: true, subtree: true });
  })()`);
}

/** The states one band's card went through, repeats folded. */
export async function cardStates(page: Page, bandId: string): Promise<string[]> {
  const all = (await page.evaluate("window.cardStates")) as string[];
  return all
    .filter((s) => s.startsWith(bandId + ":"))
    .map((s) => s.split(":")[1])
    .filter((s, i, list) => s !== list[i - 1]);
}

export interface ScreenCheck {
  screen: string;
  size: Size;
  file: string;
  overflow: string[];
  axe: AxeFinding[];
}

/**
 * The screen as it is at both sizes: a full-page screenshot in reports/screenshots/<name>-<size>.png, the
 * elements overflowing the viewport, and axe's findings. The viewport is left at the laptop size.
 */
export async function checkScreen(page: Page, name: string): Promise<ScreenCheck[]> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const out: ScreenCheck[] = [];
  for (const size of Object.keys(SIZES) as Size[]) {
    await page.setViewportSize(SIZES[size]);
    await page.waitForTimeout(100);
    const file = path.join(SCREENSHOTS, `${name}-${size}.png`);
    await page.screenshot({ path: file, fullPage: true });
    out.push({ screen: name, size, file, overflow: await overflowing(page), axe: await axe(page) });
  }
  await page.setViewportSize(SIZES.laptop);
  return out;
}

/** The serious and critical findings, the ones that fail a test. */
export function serious(checks: ScreenCheck[]): string[] {
  return checks.flatMap((c) =>
    c.axe
      .filter((f) => f.impact === "serious" || f.impact === "critical")
      .map((f) => `${c.screen}/${c.size}: ${f.id} (${f.impact}): ${f.help}: ${f.nodes.join(", ")}`),
  );
}

import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import jsQR from "jsqr";
import * as QRCode from "qrcode";
import type { Browser, Page } from "playwright-core";
import { pathToFileURL } from "url";
import {
  BandLabel,
  groupedBandId,
  labelPayload,
  labelSheetSvg,
  terminalQr,
  writeLabelSheet,
} from "../../host-tools/src/flash/labels";
import { launch, SCREENSHOTS } from "../kiosk/helpers/browser";
import { crop, decodePng } from "../helpers/png";

/** A deployment name with every character XML cares about, and some that are not ASCII. */
const AWKWARD = `Hội An <&"7"> 'B'`;

/** Too long for a label: cut short with an ellipsis. */
const LONG = "Hội An ward 7, Cẩm Phô, second round of the autumn campaign";

/** `n` labels with ids that look random (but are the same on every run), on two boards. */
function batch(n: number, seed = "tracelet"): BandLabel[] {
  return Array.from({ length: n }, (_, i) => ({
    bandId: createHash("sha256").update(`${seed}:${i}`).digest("hex").slice(0, 16),
    board: i % 3 === 0 ? "bangle2" : "puckjs",
    boardName: i % 3 === 0 ? "Bangle.js 2" : "Puck.js",
    firmware: `0.1.${i % 4}+a8f9a92`,
    date: `2026-11-${String(1 + (i % 28)).padStart(2, "0")}`,
    deployment: i === 4 ? AWKWARD : i === 7 ? LONG : i % 2 ? "Hội An" : undefined,
  }));
}

const MM = 96 / 25.4; // CSS pixels per millimetre

describe("band label payload and terminal QR", () => {
  test("the QR payload is TRACELET:BAND: and the id in upper case, in QR alphanumeric mode", () => {
    expect(labelPayload("0123456789abcdef")).toBe("TRACELET:BAND:0123456789ABCDEF");
    expect(labelPayload("FEDCBA9876543210")).toBe("TRACELET:BAND:FEDCBA9876543210");
    const qr = QRCode.create(labelPayload("0123456789abcdef"), { errorCorrectionLevel: "M" });
    expect(qr.segments.map((s) => s.mode.id)).toEqual(["Alphanumeric"]);
    expect(qr.version).toBe(2);
    expect(groupedBandId("0123456789abcdef")).toBe("0123 4567 89AB CDEF");
    for (const bad of [
      "",
      "0123456789abcde",
      "0123456789abcdef0",
      "0123456789abcdeg",
      " 0123456789abcde",
      "0x23456789abcdef",
    ]) {
      expect(() => labelPayload(bad)).toThrow(/16 hex digits/);
    }
  });

  test("terminalQr gives a multi-line QR code that differs with the payload", async () => {
    const a = await terminalQr(labelPayload("0123456789abcdef"));
    const b = await terminalQr(labelPayload("0123456789abcdee"));
    const lines = a.split("\n").filter((l) => l.length > 0);
    // Small mode: two module rows per line, so a 25-module code with its border is over a dozen lines.
    expect(lines.length).toBeGreaterThan(12);
    expect(lines.length).toBeLessThan(25);
    expect(a).toMatch(/[▀▄█]/);
    expect(a).not.toBe(b);
  });
});

describe("band label sheet (SVG)", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-labels-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("an A4 page per 24 labels, self-contained, every text escaped", () => {
    const pages = (svg: string) => (svg.match(/<g class="page"/g) ?? []).length;
    const labels = (svg: string) => (svg.match(/<g class="label"/g) ?? []).length;
    const one = labelSheetSvg(batch(24));
    expect([pages(one), labels(one)]).toEqual([1, 24]);
    expect(one).toMatch(/width="210mm" height="297mm" viewBox="0 0 210 297"/);
    const two = labelSheetSvg(batch(25), { title: `batch <&> "7"` });
    expect([pages(two), labels(two)]).toEqual([2, 25]);
    expect(two).toMatch(/width="210mm" height="594mm" viewBox="0 0 210 594"/);
    // Nothing external: no links, images, scripts or web fonts.
    expect(two).not.toMatch(/<image|<script|<use|href=|url\((?!#)|@import|@font-face|<foreignObject/);
    expect(two).not.toContain("<&>");
    expect(two).toContain("batch &lt;&amp;&gt; &quot;7&quot;");
    const awkward = labelSheetSvg(batch(5));
    expect(awkward).not.toContain(AWKWARD);
    expect(awkward).toContain("Hội An &lt;&amp;&quot;7&quot;&gt; &apos;B&apos;");
  });

  test("bad labels are refused before anything is drawn", () => {
    const good = batch(1)[0];
    expect(() => labelSheetSvg([])).toThrow(/no labels/);
    expect(() => labelSheetSvg([{ ...good, bandId: "12" }])).toThrow(/16 hex digits/);
    expect(() => labelSheetSvg([{ ...good, date: "30/11/2026" }])).toThrow(/date must be YYYY-MM-DD/);
    expect(() => labelSheetSvg([{ ...good, boardName: "" }])).toThrow(/boardName/);
  });

  test("writeLabelSheet writes the SVG with mode 0644 and nothing else; an unwritable path is a one-line error", () => {
    const file = path.join(dir, "sheet.svg");
    const old = process.umask(0o077);
    try {
      writeLabelSheet(file, batch(3), { title: "t" });
    } finally {
      process.umask(old);
    }
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(fs.readFileSync(file, "utf8")).toBe(labelSheetSvg(batch(3), { title: "t" }));
    expect(fs.readdirSync(dir)).toEqual(["sheet.svg"]);

    const missing = path.join(dir, "no-such-folder", "sheet.svg");
    let err: Error | undefined;
    try {
      writeLabelSheet(missing, batch(3));
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toBe(`cannot write the label sheet to ${missing}: its folder does not exist`);
    expect(() => writeLabelSheet(dir, batch(3))).toThrow(/^cannot write the label sheet to .*: it is a folder$/);
    expect(() => writeLabelSheet(path.join(dir, "bad.svg"), [{ ...batch(1)[0], date: "" }])).toThrow(/date/);
    expect(fs.readdirSync(dir)).toEqual(["sheet.svg"]);
  });
});

/**
 * The sheet as a person gets it: opened in Chromium (as the kiosk page tests launch it; a missing browser fails the
 * test), photographed at 300 dpi, every label's QR code read back from the pixels, and printed to PDF.
 */
describe("band label sheet in a real browser", () => {
  const LABELS = batch(30, "browser");
  let browser: Browser;
  let page: Page;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-labels-"));
    file = path.join(dir, "labels.svg");
    writeLabelSheet(file, LABELS, { title: `batch <&> "7"` });
    browser = await launch();
    // 300 dpi: 210 mm is 794 CSS pixels at 96 per inch, each drawn as 300/96 device pixels.
    page = await browser.newPage({ viewport: { width: 794, height: 1123 }, deviceScaleFactor: 300 / 96 });
    await page.goto(pathToFileURL(file).href);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the file is well-formed XML and every text comes back as written", async () => {
    const parsed = await page.evaluate(`(() => {
      const doc = new DOMParser().parseFromString(new XMLSerializer().serializeToString(document), "image/svg+xml");
      return {
        root: document.documentElement.nodeName,
        errors: document.getElementsByTagName("parsererror").length + doc.getElementsByTagName("parsererror").length,
        title: document.querySelector("title").textContent,
        deployments: [...document.querySelectorAll("g.label .deployment")].map((t) => t.textContent),
      };
    })()`);
    expect(parsed).toEqual({
      root: "svg",
      errors: 0,
      title: `Tracelet bands · batch <&> "7"`,
      deployments: LABELS.map((l) =>
        l.deployment === LONG
          ? expect.stringMatching(/^Tracelet · Hội An ward 7, .*…$/)
          : l.deployment
            ? `Tracelet · ${l.deployment}`
            : "Tracelet",
      ),
    });
    // The raw file too, through a second parser (the browser's, on the bytes as written).
    const text = fs.readFileSync(file, "utf8");
    const again = await page.evaluate(
      `new DOMParser().parseFromString(${JSON.stringify(text)}, "image/svg+xml").getElementsByTagName("parsererror").length`,
    );
    expect(again).toBe(0);
  });

  test("every label fits its place on the stock, shows its band id, and its QR code decodes to its band", async () => {
    interface Box {
      x: number;
      y: number;
      width: number;
      height: number;
    }
    const found: { box: Box; text: string; parts: Box[] }[] = await page.evaluate(`(() => {
      const box = (r) => ({ x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height });
      return [...document.querySelectorAll("g.label")].map((g) => ({
        box: box(g.querySelector("rect.outline").getBoundingClientRect()),
        text: [...g.querySelectorAll("text")].map((t) => t.textContent).join("\\n"),
        parts: [...g.querySelectorAll("text, path.qr")].map((t) => box(t.getBoundingClientRect())),
      }));
    })()`);
    expect(found).toHaveLength(LABELS.length);
    const pageHeight = 297 * MM;
    // In reading order, page by page: rows top to bottom, labels left to right.
    const key = (b: Box) => [Math.round(b.y), Math.round(b.x)];
    const ordered = [...found].sort((a, b) => key(a.box)[0] - key(b.box)[0] || key(a.box)[1] - key(b.box)[1]);
    expect(ordered).toEqual(found);

    for (const [i, { box, text, parts }] of found.entries()) {
      const l = LABELS[i];
      // 63.5 x 33.9 mm (the outline is drawn 0.05 mm inside the edge), wholly on one A4 page.
      expect(box.width / MM).toBeCloseTo(63.4, 1);
      expect(box.height / MM).toBeCloseTo(33.8, 1);
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(210 * MM);
      expect(Math.floor(box.y / pageHeight)).toBe(Math.floor(i / 24));
      expect(Math.floor((box.y + box.height) / pageHeight)).toBe(Math.floor(i / 24));
      // Every text and the code stay inside the label (the clip would hide an overflow on paper, so check here).
      for (const p of parts) {
        expect(p.x).toBeGreaterThanOrEqual(box.x - 0.5);
        expect(p.y).toBeGreaterThanOrEqual(box.y - 0.5);
        expect(p.x + p.width).toBeLessThanOrEqual(box.x + box.width + 0.5);
        expect(p.y + p.height).toBeLessThanOrEqual(box.y + box.height + 0.5);
      }
      // The id read aloud: four groups of four upper-case hex digits, two groups a line.
      const groups = l.bandId.toUpperCase().match(/.{4}/g)!;
      expect(text.split("\n")).toEqual(
        expect.arrayContaining([
          `${groups[0]} ${groups[1]}`,
          `${groups[2]} ${groups[3]}`,
          l.boardName,
          `fw ${l.firmware}`,
          l.date,
        ]),
      );
    }

    // The pixels: the whole document at 300 dpi, each label's own area cut out and read by a QR decoder.
    // A viewport as tall as the document (Chromium's fullPage capture of an SVG document stalls).
    const height = await page.evaluate(`document.documentElement.getBoundingClientRect().height`);
    expect((height as number) / MM).toBeCloseTo(2 * 297, 0);
    await page.setViewportSize({ width: 794, height: Math.ceil(height as number) });
    const shot = await page.screenshot({ type: "png" });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    fs.writeFileSync(path.join(SCREENSHOTS, "band-labels.png"), shot);
    const img = decodePng(shot);
    const scale = 300 / 96;
    expect(img.width).toBe(Math.round(794 * scale));
    expect(img.height / (300 / 25.4)).toBeCloseTo(2 * 297, -1);
    const decoded: string[] = [];
    for (const { box } of found) {
      const cell = crop(img, box.x * scale, box.y * scale, box.width * scale, box.height * scale);
      const code = jsQR(cell.data, cell.width, cell.height, { inversionAttempts: "dontInvert" });
      decoded.push(code?.data ?? "(no QR code found)");
      if (code) {
        // At least 20 mm of code (finder pattern edge to edge), printed at 300 dpi.
        const side = Math.hypot(
          code.location.topRightCorner.x - code.location.topLeftCorner.x,
          code.location.topRightCorner.y - code.location.topLeftCorner.y,
        );
        expect(side / (300 / 25.4)).toBeGreaterThanOrEqual(20);
      }
    }
    expect(decoded).toEqual(LABELS.map((l) => `TRACELET:BAND:${l.bandId.toUpperCase()}`));
  }, 120_000);

  test("printed from the browser it is exactly two A4 pages, whatever paper and margins the print asks for", async () => {
    const pdf = (
      await page.pdf({
        preferCSSPageSize: true,
        format: "Letter",
        margin: { top: "20mm", bottom: "20mm", left: "20mm", right: "20mm" },
      })
    ).toString("latin1");
    expect((pdf.match(/\/Type\s*\/Page\b/g) ?? []).length).toBe(2);
    const boxes = [...pdf.matchAll(/\/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]/g)].map((m) => [+m[1], +m[2]]);
    expect(boxes.length).toBeGreaterThanOrEqual(2);
    for (const [w, h] of boxes) {
      // A4 in points: 595.28 x 841.89.
      expect(Math.abs(w - (210 / 25.4) * 72)).toBeLessThan(1.5);
      expect(Math.abs(h - (297 / 25.4) * 72)).toBeLessThan(1.5);
    }
  }, 60_000);
});

import * as fs from "fs";
import * as QRCode from "qrcode";

/**
 * Band labels for `tracelet flash` (issue 14): a printable sheet for a batch of provisioned bands, and a QR code in
 * the terminal for a single band.
 *
 * The sheet is one self-contained SVG (no external fonts, images or scripts), laid out for the common 24-per-sheet
 * A4 label stock: 3 columns x 8 rows of 63.5 x 33.9 mm labels, 2.5 mm between columns and none between rows, the
 * grid centred on the sheet (7.25 mm side margins, 12.9 mm top and bottom). A label is small enough to fold round a
 * wristband strap or stick on its bag; each carries the band's QR code, its id in groups of four hex digits (for
 * reading aloud over the phone), the board, the firmware version and the flashing date.
 *
 * More than 24 labels make several A4 pages, stacked in the same SVG (one `<g class="page">` per 297 mm), not one
 * file per page. Why: one file is one print job, and the SVG carries `@page { size: 210mm 297mm; margin: 0 }`, which
 * Chromium's printing honours even when the print dialog asks for another paper size or margins, so every 297 mm
 * slice lands on its own sheet at 100 % (the label tests print the sheet through Chromium and count the pages). With
 * one SVG per page, each page would be a separate print job for the person at the flasher, and nothing would be
 * gained. Print at 100 % ("actual size"), not "fit to page", or the labels drift off the stock.
 */

export interface BandLabel {
  /** The band's id: 16 hex digits. */
  bandId: string;
  /** Board id, e.g. "puckjs". */
  board: string;
  /** Board name as printed, e.g. "Puck.js". */
  boardName: string;
  /** Firmware version, e.g. "0.1.0+a8f9a92". */
  firmware: string;
  /** Flashing date, YYYY-MM-DD. */
  date: string;
  /** Deployment name, printed on the label's last line when given. */
  deployment?: string;
}

export interface LabelSheetOptions {
  /** Printed in each page's top margin, after "Tracelet bands". */
  title?: string;
}

/** Sheet and label geometry, in millimetres. */
export const SHEET = {
  width: 210,
  height: 297,
  columns: 3,
  rows: 8,
  labelWidth: 63.5,
  labelHeight: 33.9,
  columnGap: 2.5,
  rowGap: 0,
  perPage: 24,
  /** Quiet zone round each QR code, in modules (the QR standard's minimum). */
  quietZone: 4,
} as const;

const LEFT = (SHEET.width - SHEET.columns * SHEET.labelWidth - (SHEET.columns - 1) * SHEET.columnGap) / 2;
const TOP = (SHEET.height - SHEET.rows * SHEET.labelHeight - (SHEET.rows - 1) * SHEET.rowGap) / 2;
/** Padding inside a label, round the QR code and the text. */
const PAD = 1;
/** The QR code with its quiet zone: a square as tall as the label allows (about 24 mm of code for a band id). */
const QR_BOX = SHEET.labelHeight - 2 * PAD;
const TEXT_X = PAD + QR_BOX + 0.6;
const TEXT_WIDTH = SHEET.labelWidth - TEXT_X - PAD;
const MONO = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace";
const SANS = "DejaVu Sans, Helvetica, Arial, Liberation Sans, sans-serif";

const PAYLOAD_PREFIX = "TRACELET:BAND:";

/**
 * What a band's QR code encodes: "TRACELET:BAND:" and the id in 16 upper-case hex digits. Upper case and ':' keep
 * the whole payload in QR alphanumeric mode, which needs fewer modules than byte mode (30 characters fit a
 * version 2 code, 25 x 25 modules, at error correction M).
 */
export function labelPayload(bandId: string): string {
  if (typeof bandId !== "string" || !/^[0-9a-fA-F]{16}$/.test(bandId)) {
    throw new Error(`band id must be 16 hex digits, got ${JSON.stringify(bandId)}`);
  }
  return PAYLOAD_PREFIX + bandId.toUpperCase();
}

/** The band id as printed: upper case, in groups of four ("0123 4567 89AB CDEF"). */
export function groupedBandId(bandId: string): string {
  const id = labelPayload(bandId).slice(PAYLOAD_PREFIX.length);
  return id.match(/.{4}/g)!.join(" ");
}

/** Text for XML character data and attribute values; characters XML 1.0 cannot hold become U+FFFD. */
export function xmlEscape(text: string): string {
  return String(text)
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Millimetres with at most three decimals, for compact SVG. */
function mm(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}

/** The QR code's dark modules as one SVG path in module units (horizontal runs merged), and its size in modules. */
function qrPath(payload: string): { size: number; d: string } {
  const qr = QRCode.create(payload, { errorCorrectionLevel: "M" });
  const { size } = qr.modules;
  const parts: string[] = [];
  for (let row = 0; row < size; row++) {
    let col = 0;
    while (col < size) {
      if (!qr.modules.get(row, col)) {
        col++;
        continue;
      }
      const start = col;
      while (col < size && qr.modules.get(row, col)) col++;
      parts.push(`M${start} ${row}h${col - start}v1h${start - col}z`);
    }
  }
  return { size, d: parts.join("") };
}

/**
 * One line of label text. Average glyph widths are estimated (`em` of the font size per character); a line that
 * would run past the label's text column is cut short and squeezed to fit with `textLength`, and every label clips
 * its contents, so a long name can never print onto the next label.
 */
function textLine(text: string, y: number, size: number, family: string, em: number, extra = ""): string {
  // Squeezed by at most a third; anything longer loses its end to an ellipsis first.
  const fits = Math.floor((TEXT_WIDTH * 1.5) / (size * em));
  const chars = [...text];
  if (chars.length > fits) text = chars.slice(0, fits - 1).join("") + "…";
  const estimate = [...text].length * size * em;
  const fit = estimate > TEXT_WIDTH ? ` textLength="${mm(TEXT_WIDTH)}" lengthAdjust="spacingAndGlyphs"` : "";
  return (
    `<text x="${mm(TEXT_X)}" y="${mm(y)}" font-family="${family}" font-size="${mm(size)}"${fit}${extra}>` +
    `${xmlEscape(text)}</text>`
  );
}

function checkLabel(label: BandLabel, i: number): void {
  if (!label || typeof label !== "object") throw new Error(`label ${i + 1} is not an object`);
  labelPayload(label.bandId);
  for (const key of ["board", "boardName", "firmware", "date"] as const) {
    if (typeof label[key] !== "string" || label[key] === "") {
      throw new Error(`label ${i + 1} (band ${label.bandId}): ${key} must be a non-empty string`);
    }
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(label.date)) {
    throw new Error(
      `label ${i + 1} (band ${label.bandId}): date must be YYYY-MM-DD, got ${JSON.stringify(label.date)}`,
    );
  }
  if (label.deployment !== undefined && typeof label.deployment !== "string") {
    throw new Error(`label ${i + 1} (band ${label.bandId}): deployment must be a string`);
  }
}

function labelSvg(label: BandLabel, index: number, x: number, y: number): string {
  const payload = labelPayload(label.bandId);
  const [first, second] = [groupedBandId(label.bandId).slice(0, 9), groupedBandId(label.bandId).slice(10)];
  const qr = qrPath(payload);
  const module = QR_BOX / (qr.size + 2 * SHEET.quietZone);
  const qrOrigin = PAD + SHEET.quietZone * module;
  const clip = `label-clip-${index}`;
  const footer = label.deployment ? `Tracelet · ${label.deployment}` : "Tracelet";
  return [
    `<g class="label" data-band="${xmlEscape(payload.slice(PAYLOAD_PREFIX.length))}" data-board="${xmlEscape(label.board)}" transform="translate(${mm(x)} ${mm(y)})" clip-path="url(#${clip})">`,
    `<clipPath id="${clip}"><rect width="${SHEET.labelWidth}" height="${SHEET.labelHeight}"/></clipPath>`,
    // A hairline cut guide on the label's edge, for printing on plain paper; on label stock it falls on the cut.
    `<rect class="outline" x="0.05" y="0.05" width="${mm(SHEET.labelWidth - 0.1)}" height="${mm(SHEET.labelHeight - 0.1)}" rx="1.5" fill="#fff" stroke="#c8c8c8" stroke-width="0.1"/>`,
    `<path class="qr" transform="translate(${mm(qrOrigin)} ${mm(qrOrigin)}) scale(${module.toFixed(5)})" d="${qr.d}" fill="#000" shape-rendering="crispEdges"/>`,
    `<g class="band-id" font-weight="bold" fill="#000">`,
    textLine(first, 6.6, 4.6, MONO, 0.6),
    textLine(second, 11.8, 4.6, MONO, 0.6),
    `</g>`,
    `<g fill="#000">`,
    textLine(label.boardName, 17.3, 3, SANS, 0.6, ` class="board"`),
    textLine(`fw ${label.firmware}`, 21.9, 2.6, MONO, 0.6, ` class="firmware"`),
    textLine(label.date, 26.3, 2.6, MONO, 0.6, ` class="date"`),
    textLine(footer, 31, 2.3, SANS, 0.6, ` class="deployment"`),
    `</g>`,
    `</g>`,
  ].join("\n");
}

/**
 * The sheet of labels for a batch, as one SVG document (viewBox in millimetres): A4 pages stacked top to bottom,
 * 24 labels a page, in the order given (left to right, then top to bottom).
 */
export function labelSheetSvg(labels: BandLabel[], opts: LabelSheetOptions = {}): string {
  if (!Array.isArray(labels) || labels.length === 0) throw new Error("no labels to print");
  labels.forEach(checkLabel);
  const pages = Math.ceil(labels.length / SHEET.perPage);
  const height = pages * SHEET.height;
  const heading = opts.title ? `Tracelet bands · ${opts.title}` : "Tracelet bands";
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SHEET.width}mm" height="${height}mm" viewBox="0 0 ${SHEET.width} ${height}">`,
    `<title>${xmlEscape(heading)}</title>`,
    `<style>@page { size: ${SHEET.width}mm ${SHEET.height}mm; margin: 0 } text { white-space: pre }</style>`,
  ];
  for (let p = 0; p < pages; p++) {
    const top = p * SHEET.height;
    const batch = labels.slice(p * SHEET.perPage, (p + 1) * SHEET.perPage);
    out.push(`<g class="page" data-page="${p + 1}" transform="translate(0 ${top})">`);
    out.push(`<rect width="${SHEET.width}" height="${SHEET.height}" fill="#fff"/>`);
    out.push(
      `<text x="${mm(LEFT)}" y="8" font-family="${SANS}" font-size="3" fill="#444">` +
        `${xmlEscape(heading)} · ${labels.length} labels · page ${p + 1} of ${pages}</text>`,
    );
    batch.forEach((label, i) => {
      const n = p * SHEET.perPage + i;
      const col = i % SHEET.columns;
      const row = Math.floor(i / SHEET.columns);
      const x = LEFT + col * (SHEET.labelWidth + SHEET.columnGap);
      const y = TOP + row * (SHEET.labelHeight + SHEET.rowGap);
      out.push(labelSvg(label, n, x, y));
    });
    out.push(`</g>`);
  }
  out.push(`</svg>`, "");
  return out.join("\n");
}

/** The payload's QR code for a terminal (qrcode's terminal renderer, small mode: two rows per text line). */
export function terminalQr(text: string): Promise<string> {
  return QRCode.toString(text, { type: "terminal", small: true, errorCorrectionLevel: "M" });
}

const WRITE_ERRORS: Record<string, string> = {
  ENOENT: "its folder does not exist",
  ENOTDIR: "part of the path is not a folder",
  EISDIR: "it is a folder",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
};

/**
 * Writes the label sheet to `file` (mode 0644), creating no directory and no other file. A bad label, or a path
 * that cannot be written, is a one-line Error (a bad label is found before the file is opened).
 */
export function writeLabelSheet(file: string, labels: BandLabel[], opts: LabelSheetOptions = {}): void {
  const svg = labelSheetSvg(labels, opts);
  try {
    fs.writeFileSync(file, svg, { mode: 0o644 });
    fs.chmodSync(file, 0o644);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason = (err.code && WRITE_ERRORS[err.code]) || String(err.message).split("\n")[0];
    throw new Error(`cannot write the label sheet to ${file}: ${reason}`);
  }
}

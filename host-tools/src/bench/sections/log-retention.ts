import { loadAllBoards } from "../../boards/load";
import { BoardProfile } from "../../boards/profile";
import { BandDays, runSimulation } from "../../sim/run";
import { HEADER_SIZE as STORAGE_HEADER_BYTES } from "../../sim/storage";
import { BenchFigure, BenchSection } from "../types";
import { bundleFile } from "./firmware-band";

/**
 * Honest retention (issue 11 item 5): what a band still holds when it is synced only after three weeks. Per board,
 * on the simulator running the built bundle, a scenario runs for 21 virtual days with no sync; at the start of day
 * 21 a kiosk would sync, and what it would read is the log decoded from the band's Storage then (band-log.ts, the
 * same decoder the simulator's recall uses). For each day d = 0..20: the share of that day's true close contacts
 * (ground truth: >= 15 minutes within 2 m with a peer that advertises, the firmware section's recall definition) of
 * which at least one record is still in the log, averaged over the bands that had a close contact that day. The
 * retention curve is that share per day; the guaranteed retention is the number of most recent whole days whose
 * share is at least day 20's less a small tolerance (day 20 is never dropped, so it is what the run detects at all).
 * Beside it, the budget arithmetic from the board profile and the decoded log: budget, log file size (Storage),
 * records per day and bytes per record (measured), and the days the log holds once the oldest file is dropped.
 *
 * Nothing here knows the log format: file size, records and bytes come from Storage and the decoded log, so the
 * figures follow a format change.
 *
 * - care-home: the simulator's care home (20 bands, its indoor-calibrated default radio preset `epfl-indoor`, seed
 *   1). Target: >= 14 days on every board (what every Exposure Notification phone keeps), 21 on `puckjs-minimal`;
 *   Pixl.js is reported, not judged (its log budget is the smallest).
 * - typical-resident: people living alone with 3-5 close contacts a day (scenario.ts), 10 of them (their load does
 *   not depend on how many there are). Target: >= 21 days.
 * `--quick`: 8 care-home and 4 typical residents, still 21 days (about 4 minutes here). A care home of 8 is lighter per
 * band than one of 20 (Puck.js held 12 days against 9), so quick care-home figures are a smoke test, not the figure.
 */
export const RUN_DAYS = 21;
/** How far below day 20's share a day may fall and still count as held (day-to-day noise of the share). */
export const TOLERANCE = 0.05;
const SEED = 1;
const CARE_HOME_DAYS_TARGET = 14;
/** Boards with another care-home target than 14 days. */
const CARE_HOME_TARGET_BY_BOARD: Partial<Record<string, number>> = { "puckjs-minimal": 21 };
/** Boards whose care-home figure is reported, not judged, and why. */
const CARE_HOME_REPORTED_ONLY: Partial<Record<string, (b: BoardProfile, c: RetentionCurve) => string>> = {
  pixljs: (b, c) =>
    `reported, not judged: Pixl.js has the smallest Storage (${b.storageBytes} B) and log budget ` +
    `(${b.logBudgetBytes} B): ${c.budget.filesInBudget ?? "n/a"} files, ${c.budget.daysHeldOldestDropped ?? "n/a"} ` +
    `days once the oldest is dropped at ${c.budget.bytesPerDay ?? "n/a"} B/day`,
};
const TYPICAL_DAYS_TARGET = 21;
/** The firmware section's care home. */
const CARE_HOME_BANDS = 20;
/**
 * A typical resident's load does not grow with the number of residents (each has 3-5 contacts a day whoever they
 * are), so 10 are enough; the wall time grows with the bands (20 took 100-190 s for 21 days on the shared 2-core
 * machine, about as long as the care home's 20).
 */
const TYPICAL_BANDS = 10;

export interface BudgetArithmetic {
  /** The board profile's log budget. */
  logBudgetBytes: number;
  /** Data bytes of one log file, from Storage (null if the band wrote none). */
  logFileBytes: number | null;
  /** Log files the budget holds: budget / (file + Storage's 32-byte header), at least two. */
  filesInBudget: number | null;
  /** Log files in Storage at the sync (most of any band). */
  logFilesAtSync: number;
  /** Records a day per band, over the days after the oldest day still in the log (that one may be partly gone). */
  recordsPerDay: number | null;
  /** Log bytes written (headers, records, torn units) per record in the log. */
  bytesPerRecord: number | null;
  bytesPerDay: number | null;
  /** (filesInBudget - 1) x file bytes / bytes per day: what the log surely holds, just after dropping a file. */
  daysHeldOldestDropped: number | null;
  /** filesInBudget x file bytes / bytes per day: when the log is full, just before a drop. */
  daysHeldFull: number | null;
}

export interface RetentionCurve {
  days: number;
  /** Per day 0..days-1: share of that day's close contacts with a record still in the log, mean over bands. */
  fraction: (number | null)[];
  /** The same pooled over bands (contacts in the log / close contacts). */
  pooled: (number | null)[];
  closeContacts: number[];
  closeContactsPerBandDay: number;
  /** The share on the last day: the reference the older days are held against. */
  lastDay: number | null;
  tolerance: number;
  /** Most recent whole days in a row with a share >= lastDay - tolerance (days without close contacts are skipped). */
  guaranteedDays: number;
  budget: BudgetArithmetic;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The retention curve, guaranteed days and budget arithmetic of bands' logs at the sync (run.ts `byDay`). */
export function retentionCurve(bands: BandDays[], days: number, logBudgetBytes: number, tolerance = TOLERANCE) {
  const fraction: (number | null)[] = [];
  const pooled: (number | null)[] = [];
  const closeContacts: number[] = [];
  for (let d = 0; d < days; d++) {
    const shares = bands.filter((b) => b.closeContacts[d] > 0).map((b) => b.inLog[d] / b.closeContacts[d]);
    const contacts = sum(bands.map((b) => b.closeContacts[d]));
    closeContacts.push(contacts);
    fraction.push(shares.length ? round(sum(shares) / shares.length) : null);
    pooled.push(contacts ? round(sum(bands.map((b) => b.inLog[d])) / contacts) : null);
  }
  const lastDay = fraction[days - 1] ?? null;
  let guaranteedDays = 0;
  if (lastDay !== null) {
    for (let d = days - 1; d >= 0; d--) {
      const f = fraction[d];
      if (f === null) continue;
      if (f < lastDay - tolerance) break;
      guaranteedDays++;
    }
  }
  const curve: RetentionCurve = {
    days,
    fraction,
    pooled,
    closeContacts,
    closeContactsPerBandDay: bands.length ? round(sum(closeContacts) / (bands.length * days), 2) : 0,
    lastDay,
    tolerance,
    guaranteedDays,
    budget: budgetArithmetic(bands, logBudgetBytes),
  };
  return curve;
}

function budgetArithmetic(bands: BandDays[], logBudgetBytes: number): BudgetArithmetic {
  const fileBytes = Math.max(0, ...bands.map((b) => b.logFileBytes)) || null;
  const filesInBudget = fileBytes ? Math.max(2, Math.floor(logBudgetBytes / (fileBytes + STORAGE_HEADER_BYTES))) : null;
  let recordDays = 0;
  let records = 0;
  for (const b of bands) {
    const oldest = b.records.findIndex((n) => n > 0);
    if (oldest < 0) continue;
    const from = oldest + 1 < b.records.length ? oldest + 1 : oldest;
    records += sum(b.records.slice(from));
    recordDays += b.records.length - from;
  }
  const inLog = sum(bands.map((b) => sum(b.records) + b.recordsUndated));
  const recordsPerDay = recordDays ? records / recordDays : null;
  const bytesPerRecord = inLog ? sum(bands.map((b) => b.logBytesUsed)) / inLog : null;
  const bytesPerDay = recordsPerDay !== null && bytesPerRecord !== null ? recordsPerDay * bytesPerRecord : null;
  const held = (files: number) =>
    fileBytes && filesInBudget && bytesPerDay ? round((files * fileBytes) / bytesPerDay, 1) : null;
  return {
    logBudgetBytes,
    logFileBytes: fileBytes,
    filesInBudget,
    logFilesAtSync: Math.max(0, ...bands.map((b) => b.logFiles)),
    recordsPerDay: recordsPerDay === null ? null : round(recordsPerDay, 1),
    bytesPerRecord: bytesPerRecord === null ? null : round(bytesPerRecord, 2),
    bytesPerDay: bytesPerDay === null ? null : Math.round(bytesPerDay),
    daysHeldOldestDropped: filesInBudget ? held(filesInBudget - 1) : null,
    daysHeldFull: filesInBudget ? held(filesInBudget) : null,
  };
}

export interface RetentionRun {
  scenario: string;
  description: string;
  bands: number;
  days: number;
  seed: number;
  radioPreset: string;
  /** The run's recall of 15-minute contacts (firmware section's definition), over all its days. */
  recall: number | null;
  faults: number;
  wallSeconds: number;
  curve: RetentionCurve;
}

/**
 * The section's core: one scenario on one board for `days` days, the log read at the start of the next day.
 * `board` is the profile the bundle was built for (its log budget goes into the arithmetic).
 */
export function runRetention(o: {
  scenario: string;
  board: BoardProfile;
  bundle: string;
  bands: number;
  days: number;
  seed?: number;
  tolerance?: number;
}): RetentionRun {
  const seed = o.seed ?? SEED;
  const t0 = Date.now();
  const sim = runSimulation({
    scenario: o.scenario,
    bands: o.bands,
    hours: o.days * 24,
    seed,
    board: o.board.id,
    bundle: o.bundle,
    byDay: true,
  });
  const byDay = sim.byDay;
  if (!byDay) throw new Error("runSimulation returned no per-day logs");
  return {
    scenario: o.scenario,
    description: sim.scenario.description,
    bands: o.bands,
    days: o.days,
    seed,
    radioPreset: sim.scenario.environment,
    recall: sim.detection.recall,
    faults: sim.faults.count,
    wallSeconds: round((Date.now() - t0) / 1000, 1),
    curve: retentionCurve(byDay.bands, byDay.days, o.board.logBudgetBytes, o.tolerance),
  };
}

export type BoardResult = {
  board: string;
  bundle: string;
  careHome: RetentionRun;
  typical: RetentionRun;
  targets: { careHome: number; careHomeJudged: boolean; careHomeNote: string | null; typical: number };
  checks: { careHome: boolean | null; typical: boolean; faults: boolean };
  wallSeconds: number;
  pass: boolean;
};

/** A board's result: its targets (care home by board, typical resident 21 days) and whether each was met. */
export function judge(
  board: BoardProfile,
  bundle: string,
  careHome: RetentionRun,
  typical: RetentionRun,
  wallSeconds: number,
): BoardResult {
  const careTarget = CARE_HOME_TARGET_BY_BOARD[board.id] ?? CARE_HOME_DAYS_TARGET;
  const reportedOnly = CARE_HOME_REPORTED_ONLY[board.id];
  const careMet = careHome.curve.guaranteedDays >= careTarget;
  const checks = {
    // A reported-only board passes when it meets the target, and is not judged when it does not.
    careHome: careMet ? true : reportedOnly ? null : false,
    typical: typical.curve.guaranteedDays >= TYPICAL_DAYS_TARGET,
    faults: careHome.faults + typical.faults === 0,
  };
  return {
    board: board.id,
    bundle,
    careHome,
    typical,
    targets: {
      careHome: careTarget,
      careHomeJudged: !reportedOnly,
      careHomeNote: reportedOnly && !careMet ? reportedOnly(board, careHome.curve) : null,
      typical: TYPICAL_DAYS_TARGET,
    },
    checks,
    wallSeconds: round(wallSeconds, 1),
    pass: Object.values(checks).every((c) => c !== false),
  };
}

function curveText(c: RetentionCurve): string {
  return c.fraction.map((f) => (f === null ? "-" : f.toFixed(2))).join(" ");
}

function budgetText(c: RetentionCurve): string {
  const b = c.budget;
  if (!b.logFileBytes || !b.filesInBudget) return `${b.logBudgetBytes} B budget; no log file written`;
  return (
    `${b.logBudgetBytes} B budget = ${b.filesInBudget} files x ${b.logFileBytes} B (${b.logFilesAtSync} at the sync); ` +
    `${b.recordsPerDay ?? "n/a"} records/day x ${b.bytesPerRecord ?? "n/a"} B = ${b.bytesPerDay ?? "n/a"} B/day; ` +
    `${b.filesInBudget - 1} files (oldest dropped) = ${b.daysHeldOldestDropped ?? "n/a"} days, ` +
    `${b.filesInBudget} files = ${b.daysHeldFull ?? "n/a"} days`
  );
}

function retentionFigures(result: object): BenchFigure[] {
  const rows: BenchFigure[] = [];
  for (const r of (result as { boards: BoardResult[] }).boards) {
    const runs: [string, RetentionRun, string, boolean | null][] = [
      [
        "care-home",
        r.careHome,
        r.targets.careHomeJudged ? `>= ${r.targets.careHome}` : `>= ${r.targets.careHome} (reported)`,
        r.checks.careHome,
      ],
      ["typical resident", r.typical, `>= ${r.targets.typical}`, r.checks.typical],
    ];
    for (const [label, run, target, pass] of runs) {
      const c = run.curve;
      const method =
        `${run.scenario} scenario, ${run.bands} bands x ${run.days} virtual days (seed ${run.seed}, ${run.radioPreset}), ` +
        `no sync until day ${run.days}; log decoded from Storage then; per day the share of its true 15-min close ` +
        `contacts (${c.closeContactsPerBandDay}/band/day) with >= 1 record left, mean over bands; ${run.wallSeconds} s wall`;
      rows.push({
        board: r.board,
        figure: `${label} retention curve, day 0..${c.days - 1}`,
        target: "-",
        measured: curveText(c),
        pass: null,
        method,
      });
      rows.push({
        board: r.board,
        figure: `${label} guaranteed retention (days)`,
        target,
        measured: `${c.guaranteedDays} (day ${c.days - 1}: ${c.lastDay ?? "n/a"})`,
        pass,
        method:
          `most recent days with a share >= day ${c.days - 1}'s - ${c.tolerance}` +
          (label === "care-home" && r.targets.careHomeNote ? `; ${r.targets.careHomeNote}` : ""),
      });
      rows.push({
        board: r.board,
        figure: `${label} log budget arithmetic`,
        target: "-",
        measured: String(c.budget.daysHeldOldestDropped ?? "n/a"),
        pass: null,
        method: budgetText(c),
      });
    }
    rows.push({
      board: r.board,
      figure: "device faults (both runs)",
      target: "0",
      measured: String(r.careHome.faults + r.typical.faults),
      pass: r.checks.faults,
      method: "faults escaping a callback in the runs above",
    });
  }
  return rows;
}

export const logRetentionSection: BenchSection = {
  figures: retentionFigures,
  name: "log-retention",
  description:
    "days of close contacts a band still holds when synced after 21 days, per board on the simulator: retention curve " +
    "and guaranteed days for the care home (20 bands) and typical residents (10 bands, 3-5 close contacts a day), with the " +
    "log budget arithmetic",
  run: async (opts) => {
    const careBands = opts.quick ? 8 : CARE_HOME_BANDS;
    const typicalBands = opts.quick ? 4 : TYPICAL_BANDS;
    const results: BoardResult[] = [];
    for (const board of loadAllBoards()) {
      const started = Date.now();
      const b = await bundleFile(board);
      const run = (scenario: string, bands: number) =>
        runRetention({ scenario, board, bundle: b.file, bands, days: RUN_DAYS });
      const careHome = run("care-home", careBands);
      const typical = run("typical-resident", typicalBands);
      results.push(judge(board, b.source, careHome, typical, (Date.now() - started) / 1000));
    }
    return {
      days: RUN_DAYS,
      tolerance: TOLERANCE,
      boards: results,
      pass: results.every((r) => r.pass),
    };
  },
};

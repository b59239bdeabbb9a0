import * as fs from "fs";
import { encodeProvisioning, defaultProvisioning } from "../../../firmware/src/protocol/provisioning";
import { loadBoard } from "../boards/load";
import { bundlePath } from "../build/paths";
import { BoardProfile } from "../boards/profile";
import { LOG_FILE_PATTERN, readBandLog } from "./band-log";
import { hex } from "./bytes";
import { EspruinoDevice, Fault } from "./device";
import { ENERGY_CATEGORIES, EnergyCategory, EnergyRange, RANGE_BOUNDS } from "./energy";
import { HostileMode } from "./hostile";
import { Phone } from "./phones";
import { resolveScenario, Scenario } from "./scenario";
import { CLOSE_MINUTES, distanceSeries, groundTruth, pairKey } from "./truth";
import { World } from "./world";

/**
 * `tracelet simulate`: a scenario's people wear bands running the flashed bundle, carry phones or nothing; the
 * world runs for the given hours; then what the bands logged (decoded from their simulated Storage) is compared
 * with the ground truth of the movements, and flash, energy, faults and memory are reported per board.
 *
 * Detection metric (per observing band, peer and UTC day): the ground truth is a close contact when they spent
 * >= 15 minutes within 2 m. The band "detects" it when its log holds records of the peer's ids that day whose
 * attenuation (peer's calibrated tx power - mean RSSI) is at most `attenuationDb`, adding up to >= 15 minutes,
 * each record counting its first-to-last span plus one scan period (what a matcher holding the TEK can compute).
 * Recall = detected / true close contacts with peers that advertise; precision = detected that are true /
 * detected. "Any sighting" recall counts a true contact as found if the peer appears in the log at all that day.
 */
export interface SimulationOptions {
  scenario: string;
  bands?: number;
  /** Hours to simulate (default: the scenario's, 24 for built-ins). */
  hours?: number;
  seed?: number;
  board?: string;
  /** Bundle file per board (default dist/<board>/tracelet.js). */
  bundle?: string | ((board: BoardProfile) => string);
  environment?: string;
  /** Attenuation threshold for a "near" sighting (dB). Default 70: the indoor model's median at 2 m. */
  attenuationDb?: number;
  /** Fault injection. */
  powerCutsPerDay?: number;
  clockJumpsPerDay?: number;
  flashFull?: boolean;
  hostile?: HostileMode[];
  /** JsVars sampling interval, seconds (default 600). */
  memoryCheckSeconds?: number;
  /** Also report, per band and UTC day of the run, close contacts and how many of them the log still holds. */
  byDay?: boolean;
  onProgress?: (fraction: number, simSeconds: number) => void;
}

export interface BoardSummary {
  board: string;
  bands: number;
  averageUa: number;
  batteryDays: number;
  breakdownUa: Record<EnergyCategory, number>;
  /** Average current and battery days as low / expected / high, each with what it assumes (energy.ts ENERGY_RANGE). */
  energyRange: EnergyRange;
  /** Scan reports dropped per band per day because JavaScript was busy (the stack's event buffer was full). */
  reportsDroppedPerDay: number;
  /** Scan reports that reached the scan callback, per band per day. */
  reportsPerDay: number;
  peakJsVars: number;
  jsVars: number;
  storageBytesUsed: number;
  logBytesUsed: number;
  logBudgetBytes: number;
  logBytesPerDay: number;
  /** Days until the log budget fills at this rate (before retention drops old files). */
  projectedLogDays: number | null;
  scanPeriodS: number | null;
}

/**
 * One band's log at the end of the run, by UTC day (index 0 = the run's first day): what a kiosk syncing then would
 * read. Only the decoded log (band-log.ts) and Storage's file list are used, not the log format's constants.
 */
export interface BandDays {
  band: string;
  board: string;
  /** True close contacts (>= 15 min within 2 m) with peers that advertise, per day. */
  closeContacts: number[];
  /** Of those, the ones with at least one record (any attenuation) still in the log, per day. */
  inLog: number[];
  /** Records in the log whose first sighting falls on each day. */
  records: number[];
  /** Records that could not be placed in one of the run's days (no Unix time for their segment). */
  recordsUndated: number;
  logFiles: number;
  /** Data bytes of one log file in Storage (without Storage's header): the largest seen. */
  logFileBytes: number;
  /** Bytes of log units written (headers, records, torn units). */
  logBytesUsed: number;
}

export interface SimulationResult {
  scenario: { name: string; description: string; hours: number; environment: string; people: Record<string, number> };
  seed: number;
  firmware: Record<string, { bundle: string; bytes: number }>;
  run: { wallSeconds: number; simulatedSeconds: number; speedup: number };
  groundTruth: {
    /** Unordered pairs of people (anyone) >= 15 min within 2 m in a day. */
    closeContactPairs: number;
    /** (band, peer that advertises, day) with >= 15 min within 2 m: the denominator of recall. */
    bandCloseContacts: number;
    /** (band, advertising peer, day) with 5-15 min within 2 m. */
    shortExposures: number;
  };
  detection: {
    available: boolean;
    reason: string | null;
    attenuationThresholdDb: number;
    recall: number | null;
    precision: number | null;
    anySightingRecall: number | null;
    shortExposureSightingRate: number | null;
    truePositives: number;
    falseNegatives: number;
    falsePositives: number;
    recordsDecoded: number;
    recordsUnattributed: number;
  };
  boards: BoardSummary[];
  faults: { count: number; first: Fault[] };
  radio: { fifoDrops: number; idsAdvertised: number };
  injected: { powerCuts: number; clockJumps: number; flashFull: boolean; hostile: string[] };
  trace: {
    pair: [string, string] | null;
    distance: { t: number; d: number }[];
    rssi: { t: number; rssi: number }[];
  };
  matrix: { bands: string[]; peers: string[]; cells: { truth: number; logged: number }[][] };
  /** With `byDay`: each band's log at the end of the run, by day. */
  byDay?: { firstUnixDay: number; days: number; bands: BandDays[] };
}

export function bundlePathFor(board: BoardProfile, opt: SimulationOptions["bundle"]): string {
  if (typeof opt === "function") return opt(board);
  if (typeof opt === "string") return opt;
  return bundlePath(board.id);
}

export function runSimulation(opts: SimulationOptions): SimulationResult {
  const seed = opts.seed ?? 1;
  const defaultBoard = loadBoard(opts.board ?? "puckjs");
  const bands = opts.bands ?? 20;
  const scenario: Scenario = resolveScenario(opts.scenario, bands, opts.hours, seed);
  const world = new World({ seed, environment: opts.environment ?? scenario.environment });
  const truth = groundTruth(scenario, world.startUnix);
  const memoryCheck = opts.memoryCheckSeconds ?? 600;

  // ---- firmware per board
  const sources = new Map<string, { path: string; source: string }>();
  const boardOf = new Map<string, BoardProfile>();
  const sourceFor = (b: BoardProfile) => {
    let s = sources.get(b.id);
    if (!s) {
      const p = bundlePathFor(b, opts.bundle);
      if (!fs.existsSync(p))
        throw new Error(`no firmware bundle for ${b.id} at ${p}: run \`tracelet build --board ${b.id}\``);
      s = { path: p, source: fs.readFileSync(p, "latin1") };
      sources.set(b.id, s);
    }
    return s.source;
  };

  // ---- population
  const devices = new Map<string, EspruinoDevice>();
  const phones = new Map<string, Phone>();
  const txOf = new Map<string, number>();
  const advertising = new Set<string>();
  const rngProv = world.rng.fork("provisioning");
  for (const p of scenario.people) {
    if (p.carries === "band") {
      const board = p.board ? loadBoard(p.board) : defaultBoard;
      boardOf.set(p.id, board);
      const prov = encodeProvisioning(
        defaultProvisioning(rngProv.bytes(8), rngProv.bytes(16), rngProv.bytes(16), world.startUnix),
      );
      const files: Record<string, Uint8Array | string> = { "tl.prov": prov };
      const d = world.addBand({
        board,
        name: p.id,
        bundleSource: sourceFor(board),
        mobility: p.track,
        provisioning: files,
        clock: world.startUnix,
        memoryCheck,
        powerOn: false,
      });
      if (opts.flashFull) {
        const free = d.storage.getFree();
        const filler = free - 2 * board.flashPageSize - 64;
        if (filler > 0) d.storage.write("filler", new Uint8Array(filler), 0, 0);
      }
      d.powerOn(world.startUnix);
      devices.set(p.id, d);
      txOf.set(p.id, board.radio.calibratedTxDbm);
      advertising.add(p.id);
    } else if (p.carries === "en-phone" || p.carries === "bluezone-phone") {
      const ph = world.addPhone({ kind: p.carries === "en-phone" ? "en" : "bluezone", name: p.id, mobility: p.track });
      phones.set(p.id, ph);
      txOf.set(p.id, ph.eirpDbm());
      advertising.add(p.id);
    }
  }
  for (const mode of opts.hostile ?? [])
    world.addHostile({ mode, position: scenario.hotspot, name: `hostile-${mode}` });

  // ---- fault injection
  const inj = world.rng.fork("faults");
  let powerCuts = 0;
  let clockJumps = 0;
  const end = scenario.hours * 3600;
  for (const d of devices.values()) {
    const schedule = (perDay: number, fn: () => void) => {
      if (!perDay) return;
      let t = inj.exp(86400 / perDay);
      while (t < end) {
        world.scheduler.at(t, fn);
        t += inj.exp(86400 / perDay);
      }
    };
    schedule(opts.powerCutsPerDay ?? 0, () => {
      powerCuts++;
      if (inj.chance(0.5)) d.powerCut(inj.uniform(5, 60));
      else d.cutPowerAfterFlashBytes(inj.int(0, 64));
    });
    schedule(opts.clockJumpsPerDay ?? 0, () => {
      clockJumps++;
      d.setClock(d.deviceTime(world.now) + inj.uniform(-7200, 7200));
    });
  }

  // ---- trace the pair with the most time within 2 m (band observing someone who advertises)
  let best: { a: string; b: string; m: number } | null = null;
  for (const e of truth.pairs) {
    for (const [obs, peer] of [
      [e.a, e.b],
      [e.b, e.a],
    ]) {
      if (devices.has(obs) && advertising.has(peer) && (!best || e.minutes2m > best.m))
        best = { a: obs, b: peer, m: e.minutes2m };
    }
  }
  const rssiTrace: { t: number; rssi: number }[] = [];
  if (best) {
    const obsDev = devices.get(best.a);
    const peerName = best.b;
    world.packetTap = (scanner, from, rssi, t) => {
      if (scanner === obsDev && from.label === peerName && rssiTrace.length < 20000) rssiTrace.push({ t, rssi });
    };
  }

  // ---- run
  const t0 = Date.now();
  world.run(end, opts.onProgress ? (now) => opts.onProgress?.(now / end, now) : undefined);
  const wall = (Date.now() - t0) / 1000;

  // ---- logs
  const logged = new Map<string, number>();
  const sightedAny = new Set<string>();
  let recordsDecoded = 0;
  let unattributed = 0;
  const scanPeriods = new Map<string, number | null>();
  let firmwareLogs = 0;
  const unixDay0 = Math.floor(world.startUnix / 86400);
  const runDays = Math.ceil(scenario.hours / 24);
  const byDay = new Map<string, BandDays>();
  for (const [name, d] of devices) {
    const period = scanPeriod(d.nrf.scanStarts);
    scanPeriods.set(name, period);
    const log = readBandLog(d, (uptime) => {
      for (let i = d.powerOnLog.length - 1; i >= 0; i--) {
        const p = d.powerOnLog[i];
        const t = p.t + (uptime - p.clock) / (1 + d.driftPpm * 1e-6);
        if (t >= p.t - 1 && t <= world.now) return world.startUnix + t;
      }
      return undefined;
    });
    if (log.files) firmwareLogs++;
    if (opts.byDay) {
      const days: BandDays = {
        band: name,
        board: boardOf.get(name)?.id ?? "",
        closeContacts: new Array<number>(runDays).fill(0),
        inLog: new Array<number>(runDays).fill(0),
        records: new Array<number>(runDays).fill(0),
        recordsUndated: 0,
        logFiles: log.files,
        logFileBytes: Math.max(
          0,
          ...d.storage
            .files()
            .filter((f) => LOG_FILE_PATTERN.test(f.name))
            .map((f) => f.data.length),
        ),
        logBytesUsed: log.bytesUsed,
      };
      for (const r of log.records) {
        const i = r.startUnix === undefined ? -1 : Math.floor(r.startUnix / 86400) - unixDay0;
        if (i >= 0 && i < runDays) days.records[i]++;
        else days.recordsUndated++;
      }
      byDay.set(name, days);
    }
    for (const r of log.records) {
      recordsDecoded++;
      const owner = world.idOwners.get(hex(r.id));
      if (!owner || r.startUnix === undefined) {
        unattributed++;
        continue;
      }
      const day = Math.floor(r.startUnix / 86400);
      const k = `${name}|${owner.owner}|${day}`;
      sightedAny.add(k);
      const tx = txOf.get(owner.owner) ?? -20;
      if (tx - r.rssiMean <= (opts.attenuationDb ?? 70)) {
        logged.set(k, (logged.get(k) ?? 0) + r.durationMinutes + (period ?? 240) / 60);
      }
    }
  }

  // ---- detection
  let tp = 0;
  let fn = 0;
  let fp = 0;
  let anyFound = 0;
  let close = 0;
  let closeAdv = 0;
  let short = 0;
  let shortSeen = 0;
  for (const e of truth.pairs) {
    if (e.minutes2m >= CLOSE_MINUTES) close++;
    for (const [obs, peer] of [
      [e.a, e.b],
      [e.b, e.a],
    ]) {
      if (!devices.has(obs) || !advertising.has(peer)) continue;
      const k = `${obs}|${peer}|${e.day}`;
      const truthClose = e.minutes2m >= CLOSE_MINUTES;
      const predicted = (logged.get(k) ?? 0) >= CLOSE_MINUTES;
      if (truthClose) {
        closeAdv++;
        if (predicted) tp++;
        else fn++;
        if (sightedAny.has(k)) anyFound++;
        const days = byDay.get(obs);
        const i = e.day - unixDay0;
        if (days && i >= 0 && i < runDays) {
          days.closeContacts[i]++;
          if (sightedAny.has(k)) days.inLog[i]++;
        }
      } else if (e.minutes2m >= 5) {
        short++;
        if (sightedAny.has(k)) shortSeen++;
      }
    }
  }
  for (const [k, m] of logged) {
    if (m < CLOSE_MINUTES) continue;
    const [obs, peer, day] = k.split("|");
    const e = truth.index.get(pairKey(obs, peer, Number(day)));
    if (!e || e.minutes2m < CLOSE_MINUTES) fp++;
  }
  const available = firmwareLogs > 0;
  // A band that met nobody has nothing to log: that is not the firmware's fault.
  const bandsMetSomeone = truth.pairs.some(
    (e) => (devices.has(e.a) && advertising.has(e.b)) || (devices.has(e.b) && advertising.has(e.a)),
  );
  const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 1000 : null);

  // ---- per board
  const boards: BoardSummary[] = [];
  for (const b of new Set([...boardOf.values()])) {
    const ds = [...devices.entries()].filter(([n]) => boardOf.get(n) === b).map(([, d]) => d);
    const periods = ds.map((d) => scanPeriods.get(d.name)).filter((x): x is number => typeof x === "number");
    boards.push({
      ...boardFigures(b, ds, scenario.hours),
      storageBytesUsed: Math.round(mean(ds.map((d) => d.storage.stats().fileBytes))),
      scanPeriodS: periods.length ? round(mean(periods), 1) : null,
    });
  }

  // ---- matrix for the report (bands x their most-seen peers)
  const bandNames = [...devices.keys()].slice(0, 40);
  const peerScore = new Map<string, number>();
  for (const e of truth.pairs)
    for (const p of [e.a, e.b]) if (advertising.has(p)) peerScore.set(p, (peerScore.get(p) ?? 0) + e.minutes2m);
  const peers = [...peerScore.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 40)
    .map(([p]) => p);
  const firstDay = Math.floor(world.startUnix / 86400);
  const cells = bandNames.map((bn) =>
    peers.map((pn) => {
      let truthM = 0;
      let log = 0;
      for (let day = firstDay; day <= firstDay + Math.floor(scenario.hours / 24); day++) {
        if (bn !== pn) truthM += truth.index.get(pairKey(bn, pn, day))?.minutes2m ?? 0;
        log += logged.get(`${bn}|${pn}|${day}`) ?? 0;
      }
      return { truth: round(truthM, 1), logged: round(log, 1) };
    }),
  );

  const people: Record<string, number> = {};
  for (const p of scenario.people) people[p.carries] = (people[p.carries] ?? 0) + 1;
  const firmware: Record<string, { bundle: string; bytes: number }> = {};
  for (const [id, s] of sources) firmware[id] = { bundle: s.path, bytes: s.source.length };
  const pairPeople = best
    ? [scenario.people.find((p) => p.id === best?.a), scenario.people.find((p) => p.id === best?.b)]
    : [];

  return {
    scenario: {
      name: scenario.name,
      description: scenario.description,
      hours: scenario.hours,
      environment: world.medium.env.name,
      people,
    },
    seed,
    firmware,
    run: { wallSeconds: round(wall, 2), simulatedSeconds: end, speedup: Math.round(end / Math.max(wall, 1e-3)) },
    groundTruth: { closeContactPairs: close, bandCloseContacts: closeAdv, shortExposures: short },
    detection: {
      available,
      reason: available
        ? null
        : bandsMetSomeone
          ? "no encounter log files (tl.l*) in any band's Storage: the firmware under test does not log yet"
          : "no band came within 4 m of another band or a phone (ground truth), so there was nothing to log",
      attenuationThresholdDb: opts.attenuationDb ?? 70,
      recall: available ? ratio(tp, tp + fn) : null,
      precision: available ? ratio(tp, tp + fp) : null,
      anySightingRecall: available ? ratio(anyFound, closeAdv) : null,
      shortExposureSightingRate: available ? ratio(shortSeen, short) : null,
      truePositives: tp,
      falseNegatives: fn,
      falsePositives: fp,
      recordsDecoded,
      recordsUnattributed: unattributed,
    },
    boards,
    faults: { count: world.faults.length, first: world.faults.slice(0, 10) },
    radio: {
      fifoDrops: [...devices.values()].reduce((s, d) => s + d.fifoDrops, 0),
      idsAdvertised: world.idOwners.size,
    },
    injected: { powerCuts, clockJumps, flashFull: !!opts.flashFull, hostile: opts.hostile ?? [] },
    trace: {
      pair: best ? [best.a, best.b] : null,
      distance: pairPeople[0] && pairPeople[1] ? distanceSeries(pairPeople[0], pairPeople[1], scenario.hours, 120) : [],
      rssi: thin(rssiTrace, 3000),
    },
    matrix: { bands: bandNames, peers, cells },
    ...(opts.byDay ? { byDay: { firstUnixDay: unixDay0, days: runDays, bands: [...byDay.values()] } } : {}),
  };
}

/** Median gap between scan starts longer than 10 s (restarts after an address change are shorter). */
export function scanPeriod(starts: number[]): number | null {
  const gaps: number[] = [];
  for (let i = 1; i < starts.length; i++) if (starts[i] - starts[i - 1] > 10) gaps.push(starts[i] - starts[i - 1]);
  if (!gaps.length) return null;
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)];
}

/** Energy, memory and log figures of one board's bands after `hours` (the simulator's and the demo's report). */
export function boardFigures(
  b: BoardProfile,
  ds: EspruinoDevice[],
  hours: number,
): Omit<BoardSummary, "storageBytesUsed" | "scanPeriodS"> {
  const reports = ds.map((d) => d.energy());
  const avg = mean(reports.map((r) => r.averageUaTotal));
  const breakdown = {} as Record<EnergyCategory, number>;
  for (const c of ENERGY_CATEGORIES) breakdown[c] = round(mean(reports.map((r) => r.averageUa[c])), 2);
  const logBytes = mean(ds.map((d) => readBandLog(d).bytesUsed));
  const perDay = logBytes / (hours / 24);
  const energyRange = {} as EnergyRange;
  for (const bound of RANGE_BOUNDS) {
    const ua = mean(reports.map((r) => r.range[bound].averageUa));
    const cell = reports[0] ? reports[0].range[bound].batteryDays * reports[0].range[bound].averageUa : 0;
    energyRange[bound] = {
      averageUa: round(ua, 1),
      batteryDays: round(ua > 0 ? cell / ua : Infinity, 1),
      assumes: reports[0] ? reports[0].range[bound].assumes : "",
    };
  }
  return {
    board: b.id,
    bands: ds.length,
    averageUa: round(avg, 1),
    batteryDays: round((b.battery.capacityMah * 1000) / avg / 24, 1),
    breakdownUa: breakdown,
    energyRange,
    reportsDroppedPerDay: round(mean(ds.map((d) => d.fifoDrops)) / (hours / 24), 1),
    reportsPerDay: round(mean(ds.map((d) => d.scanReports)) / (hours / 24), 1),
    peakJsVars: Math.max(...ds.map((d) => d.memoryPeak)),
    jsVars: b.jsVars,
    logBytesUsed: Math.round(logBytes),
    logBudgetBytes: b.logBudgetBytes,
    logBytesPerDay: Math.round(perDay),
    projectedLogDays: perDay > 0 ? round(b.logBudgetBytes / perDay, 1) : null,
  };
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function thin<T>(xs: T[], max: number): T[] {
  if (xs.length <= max) return xs;
  const step = xs.length / max;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(xs[Math.floor(i * step)]);
  return out;
}

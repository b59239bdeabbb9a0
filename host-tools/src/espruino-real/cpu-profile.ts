import { Rng } from "../sim/rng";
import { CpuKind, CPU_KINDS, NRF52_CALIBRATION } from "../sim/cpu-cost";
import { RealBand } from "./band";
import { RealInterpreter } from "./interpreter";
import { bootTestBand, kioskSync } from "./scenario";

/**
 * Measures the interpreter work of each kind of callback the band runs, in the real Espruino interpreter (2v29
 * compiled to JavaScript), and converts it to nRF52 time with the calibration snippet of sim/cpu-cost.ts measured in
 * the same process: nRF52 time = emulator time x (published nRF52 time of the snippet / emulator time of the
 * snippet). Host speed cancels out to first order (both are timed on the same host, minutes apart).
 *
 * The emulator offers no deterministic work counter, so times are host wall-clock means over many calls (middle 80 %), each the
 * callback's own work: a jsIdle that ran a timer or event less an idle jsIdle; a scan report less the same report
 * delivered to a no-op callback (the console line and the board shim's device object cancel out; the native
 * object building is charged separately, CPU_COST.scanPacket). The board shim's stand-ins for native calls
 * (setAdvertising, setAddress) run inside the measured timers: the profile replaces the shim's hex printing of each
 * advert (its dearest part) with nothing; the rest (option checks, the address's form) stays in, a small
 * overestimate. On boards with native AES the shim's AES is the firmware's pure-JavaScript one, which stays in: the
 * rotation kind is an upper bound there.
 *
 * Callback kinds are told apart by what the callback did (the simulator classifies its callbacks the same way,
 * device.ts): changed the address (rotation), sent a notification (sync frame), wrote flash (log write), started or
 * stopped a scan (scan window), changed the advert (advert), else a plain timer; scan reports and sync requests
 * (a kiosk sync at the end of the run) are delivered by the host. A request's time includes the frames it sends
 * at once; frames sent later by a timer are that timer's (sync frame).
 */

export interface KindSample {
  /** Callbacks measured. */
  samples: number;
  /** Host microseconds in the emulator (the callback's own work), mean of the middle 80 % of calls. */
  emulatorUs: number;
  /** The same converted to nRF52 microseconds (expected ratio). */
  nrf52Us: number;
  /**
   * Bytes of the bundle's code the interpreter lexed from flash per call (mean): deterministic, a check on the
   * timing (the board shim and code typed on the console are in RAM and not counted).
   */
  flashBytes: number;
}

export interface CpuProfile {
  board: string;
  /** Emulator microseconds per iteration of the calibration snippet (before and after the run, mean). */
  calibrationEmulatorUs: number;
  /** nRF52 us per emulator us (NRF52_CALIBRATION.usPerIteration / calibrationEmulatorUs). */
  ratio: number;
  /** Idle jsIdle (nothing due), emulator us: subtracted from every timer callback. */
  idleUs: number;
  kinds: Partial<Record<CpuKind, KindSample>>;
  /** Sync requests by their op code (hex, e.g. "11" for READ): what each command costs the band, the timers that
   * seal and send its frames included. */
  syncOps: Record<string, KindSample>;
  /** Virtual hours the band ran; scan reports delivered. */
  hours: number;
  reports: number;
}

/**
 * Mean of the middle 80 %: a kind mixes cheap and dear calls (a scan window's start and its end), which a median
 * would pick one of, while the tails hold the host's own pauses (garbage collection, the other jobs on its cores).
 */
function trimmedMean(xs: number[]): number {
  if (!xs.length) return 0;
  const s = xs.slice().sort((a, b) => a - b);
  const cut = Math.floor(s.length / 10);
  const mid = s.slice(cut, s.length - cut);
  return mid.reduce((a, b) => a + b, 0) / mid.length;
}

function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The calibration snippet's emulator time per iteration and the idle jsIdle, on a fresh interpreter. */
export async function calibrate(): Promise<{ usPerIteration: number; idleUs: number; callbackUs: number }> {
  const it = await RealInterpreter.start({});
  it.exec(`function __cal(n){${NRF52_CALIBRATION.loop}}`);
  const n = NRF52_CALIBRATION.iterations;
  const runs: number[] = [];
  for (let k = 0; k < 15; k++) {
    const t0 = performance.now();
    it.exec(`__cal(${n})`);
    runs.push(performance.now() - t0);
  }
  // The first runs warm the host's compiler up: keep the last ten.
  const usPerIteration = (median(runs.slice(5)) * 1000) / n;
  // An empty timer callback: the cost of waking and entering a callback (jsIdle with a timer less an idle jsIdle).
  const idle: number[] = [];
  const busy: number[] = [];
  it.exec("setInterval(function(){},50)");
  let expectWork = false;
  it.idleProbe = (ms) => (expectWork ? busy : idle).push(ms * 1000);
  for (let k = 0; k < 400; k++) {
    expectWork = false;
    it.settle();
    it.now += 50;
    expectWork = true;
    it.settle();
  }
  it.idleProbe = undefined;
  // settle() calls jsIdle until idle: the first call after the clock moved runs the timer, later ones are idle.
  const idleUs = median(idle);
  return { usPerIteration, idleUs, callbackUs: Math.max(0, median(busy) - idleUs) };
}

function enPacket(rng: Rng): Uint8Array {
  return new Uint8Array([2, 1, 0x1a, 3, 3, 0x6f, 0xfd, 23, 0x16, 0x6f, 0xfd, ...rng.bytes(20)]);
}

function address(rng: Rng): string {
  const b = rng.bytes(6);
  b[0] |= 0xc0;
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":") + " random";
}

/**
 * Runs the board's production bundle for `hours` of virtual time with `beacons` Exposure Notification beacons in range
 * of every scan window (the care-home load), timing each callback.
 */
export async function profileBand(board: string, hours = 2, beacons = 20): Promise<CpuProfile> {
  const cal = await calibrate();
  const rng = new Rng(`cpu-profile:${board}`);
  const startUnix = Date.UTC(2026, 0, 5) / 1000;
  const { band, prov } = await bootTestBand(board, rng, startUnix);
  // The shim prints each advert in hex (a JavaScript loop over its bytes, standing in for the native
  // setAdvertising): the profile does without the hex, the harness only counts the changes.
  band.interp.exec('__T.h0=__T.hex;__T.hex=function(){return ""}');
  const samples: Record<CpuKind, number[]> = {} as Record<CpuKind, number[]>;
  const bytes: Record<CpuKind, number[]> = {} as Record<CpuKind, number[]>;
  for (const k of CPU_KINDS) samples[k] = [];
  for (const k of CPU_KINDS) bytes[k] = [];
  const it = band.interp;
  let snap = effects(band);
  const opSamples: Record<string, { us: number[]; bytes: number[] }> = {};
  let lastOp: string | undefined;
  it.idleProbe = (ms) => {
    const now = effects(band);
    const read = now.reads - snap.reads;
    const kind = classify(snap, now);
    snap = now;
    const us = ms * 1000 - cal.idleUs;
    // A jsIdle that did nothing visible and took less than half an empty callback ran no callback (idle, or the
    // clock creeping up on a timer).
    if (kind === "timer" && us < cal.callbackUs / 2) return;
    samples[kind].push(us);
    bytes[kind].push(read);
    // The band seals a reply's frame when it sends it (sync/sync-service.ts pumpNow): a frame-sending timer's work
    // belongs to the request that queued the frames too.
    if (kind === "syncFrame" && lastOp) {
      const o = opSamples[lastOp];
      o.us[o.us.length - 1] += us;
      o.bytes[o.bytes.length - 1] += read;
    }
  };
  const radio = rng.fork("radio");
  const beaconList = Array.from({ length: beacons }, () => ({ addr: address(radio), packet: enPacket(radio) }));
  const end = startUnix + hours * 3600;
  let reports = 0;
  const line = (b: { addr: string; packet: Uint8Array }, rssi: number) =>
    `__T.S(atob("${Buffer.from(b.packet).toString("base64")}"),${rssi},"${b.addr}")`;
  while (band.now < end) {
    if (band.scanning) {
      band.advance(0.25);
      for (const b of beaconList) {
        if (!band.scanning) break;
        const rssi = -60 - radio.int(0, 30);
        // The report to a no-op callback, then to the band's: the difference is the band's callback.
        it.exec("__T.k=__T.cb;__T.cb=function(){}");
        let r0 = it.counters.flashReads;
        let t0 = performance.now();
        it.exec(line(b, rssi));
        const base = performance.now() - t0;
        const baseReads = it.counters.flashReads - r0;
        it.exec("__T.cb=__T.k");
        r0 = it.counters.flashReads;
        t0 = performance.now();
        it.exec(line(b, rssi));
        samples.scanReport.push((performance.now() - t0 - base) * 1000);
        bytes.scanReport.push(it.counters.flashReads - r0 - baseReads);
        reports++;
      }
    } else it.runUntil(end * 1000, () => band.scanning);
    snap = effects(band);
  }
  // A kiosk sync at the end: each request typed to the band's onWrite against the same request to a no-op; the
  // timers that then seal and send its frames are timed as callbacks (syncFrame) and added to the request's op.
  // The kiosk finds the band by its discovery advert: the hex is back for the sync.
  it.exec("__T.hex=__T.h0");
  const write = band.write.bind(band);
  band.write = (data: Uint8Array) => {
    it.exec("__T.k=__T.onWrite;__T.onWrite=function(){}");
    let r0 = it.counters.flashReads;
    let t0 = performance.now();
    write(data);
    const base = performance.now() - t0;
    const baseReads = it.counters.flashReads - r0;
    it.exec("__T.onWrite=__T.k");
    r0 = it.counters.flashReads;
    t0 = performance.now();
    write(data);
    const us = (performance.now() - t0 - base) * 1000;
    const lexed = it.counters.flashReads - r0 - baseReads;
    samples.syncRequest.push(us);
    bytes.syncRequest.push(lexed);
    const op = data[0].toString(16).padStart(2, "0");
    (opSamples[op] = opSamples[op] ?? { us: [], bytes: [] }).us.push(us);
    opSamples[op].bytes.push(lexed);
    lastOp = op;
    snap = effects(band);
  };
  const sync = kioskSync(band, prov.syncKey, rng.fork("kiosk"), () => band.now, { value: 0 });
  band.write = write;
  if (!sync.authenticated || sync.error)
    throw new Error(`the profile's kiosk sync failed: ${sync.error ?? "not authenticated"}`);
  it.idleProbe = undefined;
  // The calibration again after the run: the mean of both follows the host's speed over the run.
  const after = await calibrate();
  const usPerIteration = (cal.usPerIteration + after.usPerIteration) / 2;
  const ratio = NRF52_CALIBRATION.usPerIteration / usPerIteration;
  const kinds: Partial<Record<CpuKind, KindSample>> = {};
  for (const k of CPU_KINDS) {
    if (k !== "callback" && samples[k].length) kinds[k] = kindSample(samples[k], bytes[k], ratio);
  }
  const syncOps: Record<string, KindSample> = {};
  for (const op of Object.keys(opSamples)) syncOps[op] = kindSample(opSamples[op].us, opSamples[op].bytes, ratio);
  kinds.callback = { samples: 400, emulatorUs: cal.callbackUs, nrf52Us: cal.callbackUs * ratio, flashBytes: 0 };
  if (band.errors.length) throw new Error(`interpreter errors while profiling: ${band.errors.join("; ")}`);
  return {
    board,
    calibrationEmulatorUs: usPerIteration,
    ratio,
    idleUs: cal.idleUs,
    kinds,
    syncOps,
    hours,
    reports,
  };
}

/** A kind's (or an op's) samples: the trimmed mean of its host times, converted by `ratio`, and its mean bytes. */
function kindSample(us: number[], bytes: number[], ratio: number): KindSample {
  const emulatorUs = Math.max(0, trimmedMean(us));
  const flashBytes = Math.round(bytes.reduce((a, b) => a + b, 0) / bytes.length);
  return { samples: us.length, emulatorUs, nrf52Us: emulatorUs * ratio, flashBytes };
}

interface Effects {
  reads: number;
  notifications: number;
  addresses: number;
  adverts: number;
  flash: number;
  scanning: boolean;
}

function effects(band: RealBand): Effects {
  return {
    reads: band.interp.counters.flashReads,
    notifications: band.notifications.length,
    addresses: band.addresses.length,
    adverts: band.adverts.length,
    flash: band.interp.flashTouched,
    scanning: band.scanning,
  };
}

/** The kind of a timer or event callback from what it did. */
function classify(a: Effects, b: Effects): CpuKind {
  if (b.addresses !== a.addresses) return "rotation";
  if (b.notifications !== a.notifications) return "syncFrame";
  if (b.flash !== a.flash) return "logWrite";
  if (b.scanning !== a.scanning) return "scanWindow";
  if (b.adverts !== a.adverts) return "advert";
  return "timer";
}

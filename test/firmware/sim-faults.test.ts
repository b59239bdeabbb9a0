import { FAULT_CALLS, longestGap } from "../../host-tools/src/espruino-real/scenario";
import { FAULT_DUTIES, STATUS_FLAG_TIME_VALID } from "../../firmware/src/protocol/sync";
import {
  DEFAULT_SCAN_PERIOD_S,
  DEFAULT_SCAN_WINDOW_MS,
  DISCOVERY_JITTER_MS,
  DISCOVERY_PERIOD_MS,
  ROTATE_MIN_MS,
  ROTATE_QUIET_MAX_MS,
  ROTATE_SPAN_MS,
  WATCHDOG_S,
} from "../../firmware/src/tuning";
import { LOG_FILE_PATTERN } from "../../host-tools/src/sim/band-log";
import { RECORD_SIZE } from "../../firmware/src/protocol/record-constants";
import { EspruinoDevice } from "../../host-tools/src/sim/device";
import { World } from "../../host-tools/src/sim/world";
import { addBand, SimKiosk } from "./helpers/sim-kiosk";

/**
 * Issue 18 on the simulator, every board's production bundle: an exception injected into each Espruino call the
 * firmware makes (once, a few times, for an hour) costs one run of the duty that made it, never the duty itself;
 * the status frame a kiosk reads counts the fault and names its duty; a duty that stops ends in a watchdog reset.
 */
const BOARDS = ["puckjs", "mdbt42q", "pixljs", "banglejs2", "puckjs-minimal"];

/** Calls the firmware makes while it runs on its own (updateServices only under a sync: its own test below). */
const CALLS = FAULT_CALLS;

/** The duties whose code makes each call (band.ts; sync/sync-service.ts): a fault must be charged to one of them. */
const DUTIES_OF: Record<string, string[]> = {
  getBattery: ["scan end"],
  "Storage.read": ["scan start", "scan end", "rotation", "scan report"],
  "Storage.write": ["scan start", "scan end", "rotation", "scan report"],
  "Storage.erase": ["scan end", "rotation"],
  "Storage.compact": ["scan end", "rotation", "scan report"],
  setAdvertising: ["rotation", "discovery", "discovery end"],
  setAddress: ["rotation"],
  setScan: ["scan start", "scan end", "rotation"],
  hwRand: ["scan end", "rotation", "discovery"],
  crypto: ["rotation"],
};

const PERIOD = DEFAULT_SCAN_PERIOD_S;
const WINDOW = DEFAULT_SCAN_WINDOW_MS / 1000;
/** Next scan window after a lost one: the period with its +10 % jitter, plus the window. */
const SCAN_BOUND = PERIOD * 1.1 + WINDOW + 1;
/** Rotations 10 or 20 minutes apart (10-20 without valid time); a new identity comes up after a quiet of varying length. */
const ROTATE_BOUND = (ROTATE_MIN_MS + ROTATE_SPAN_MS + ROTATE_QUIET_MAX_MS) / 1000 + 1;
/** Discovery bursts every 4-6 s (the watchdog's kicks). */
const DISCOVERY_BOUND = 7;
/** Bursts on air: a rotation's quiet between two, after which they start again at a random phase. */
const BURST_BOUND = DISCOVERY_BOUND + (DISCOVERY_PERIOD_MS + DISCOVERY_JITTER_MS + ROTATE_QUIET_MAX_MS) / 1000;

interface Watch {
  addresses: { t: number; address: string }[];
}

/** The band's address changes, as a scanner beside it sees its packets (the kiosk's central). */
function watch(world: World, band: EspruinoDevice, kiosk: SimKiosk): Watch {
  const w: Watch = { addresses: [] };
  kiosk.central.startScan(() => undefined);
  world.packetTap = (scanner, from, _rssi, t) => {
    if (from !== band.nrf || scanner === band) return;
    const a = band.nrf.address;
    if (!w.addresses.length || w.addresses[w.addresses.length - 1].address !== a) w.addresses.push({ t, address: a });
  };
  return w;
}

/** Phones that come and go every 10 minutes: each visit is a new encounter, so logging shows as new records. */
function visitors(world: World): void {
  for (let i = 0; i < 4; i++)
    world.addPhone({
      kind: "en",
      mobility: (t: number) =>
        Math.floor((t + i * 300) / 600) % 2 === 0 ? { x: 1 + i * 0.5, y: 0 } : { x: 500, y: 0 },
    });
}

interface Case {
  band: EspruinoDevice;
  world: World;
  kiosk: SimKiosk;
  w: Watch;
  syncKey: Uint8Array;
}

function setup(board: string, seed: number): Case {
  const world = new World({ seed });
  const { band, prov } = addBand(world, board, { x: 0, y: 0 }, undefined, 600);
  visitors(world);
  const kiosk = new SimKiosk(world, [prov.syncKey], { x: 0.5, y: 0 });
  return { band, world, kiosk, w: watch(world, band, kiosk), syncKey: prov.syncKey };
}

/** A kiosk sync: the status frame (scanning for the band stops the watch scanner; it restarts after). */
async function statusBySync(c: Case): Promise<{ faults: number; duty: string; timeValid: boolean; resets: number }> {
  c.kiosk.central.stopScan();
  const f = await c.kiosk.find(60);
  expect(await c.kiosk.open(f.address, f.index)).toBe(true);
  const s = await c.kiosk.status();
  await c.kiosk.close();
  return {
    faults: s.faults,
    duty: FAULT_DUTIES[s.lastFaultDuty],
    timeValid: !!(s.flags & STATUS_FLAG_TIME_VALID),
    resets: s.resets,
  };
}

/** Log units written so far (headers and records) in the band's log files. */
function logUnits(band: EspruinoDevice): number {
  let n = 0;
  for (const f of band.storage.files())
    if (LOG_FILE_PATTERN.test(f.name))
      for (let p = 0; p + RECORD_SIZE <= f.data.length; p += RECORD_SIZE)
        if (f.data.subarray(p, p + RECORD_SIZE).some((b) => b !== 0xff)) n++;
  return n;
}

const MODES: [string, number][] = [
  ["once", 1],
  ["3 times", 3],
  ["for an hour", Infinity],
];

describe.each(BOARDS)("%s: faults in Espruino calls on the simulator", (board) => {
  const gaps: Record<string, number[]> = {};

  afterAll(() => {
    // Longest gap per duty after the fault ended, over every call and mode (the bench figure).
    const line = Object.entries(gaps)
      .map(([k, v]) => `${k} ${Math.max(...v).toFixed(1)} s`)
      .join(", ");
    console.log(`${board} longest gap after a fault: ${line}`);
  });

  describe.each(MODES)("%s", (mode, times) => {
    test.each(CALLS)("%s: every duty runs again within one period; counted with its duty", async (call) => {
      const c = setup(board, 181);
      const { band, world } = c;
      // Twenty minutes of normal life (a rotation, scan windows), then the fault.
      world.run(1200);
      const t0 = world.now;
      band.injectFault(call, times);
      const hitsOf = () => band.injectedLog.filter((h) => h.name === call);
      if (times === Infinity) {
        world.advance(3600);
        band.clearFaults();
      } else {
        // Until every injected fault has fired (a call made once an hour may take that long), at most two hours.
        while (hitsOf().length < times && world.now < t0 + 7200) world.advance(60);
        band.clearFaults();
      }
      const hits = hitsOf();
      // The fault is over at its last hit (or when cleared).
      const over = times === Infinity ? world.now : hits.length ? hits[hits.length - 1].t : t0;
      world.advance(Math.max(0, over + 60 - world.now));
      const unitsAfterFault = logUnits(band);
      world.advance(2400);
      const end = world.now;
      const scan = longestGap(band.nrf.scanStarts, over, end);
      const rot = longestGap(
        c.w.addresses.map((a) => a.t),
        over,
        end,
      );
      const disc = longestGap(band.nrf.connectableAdverts, over, end);
      (gaps.scan ??= []).push(scan);
      (gaps.rotation ??= []).push(rot);
      (gaps.discovery ??= []).push(disc);
      if (process.env.FAULT_DEBUG)
        console.log(
          JSON.stringify({
            board,
            mode,
            call,
            hits: hits.length,
            scan,
            rot,
            disc,
            wd: band.watchdogResets,
            st: await statusBySync(c),
            rec: logUnits(band) - unitsAfterFault,
          }),
        );
      expect(band.faults).toEqual([]);
      // A scan that fails every window for an hour stops feeding the watchdog: the band resets (and scans again).
      const stuck = call === "setScan" && times === Infinity;
      if (stuck) expect(band.watchdogResets).toBeGreaterThan(0);
      else expect(band.watchdogResets).toBe(0);
      expect({ call, scan: scan <= SCAN_BOUND, rot: rot <= ROTATE_BOUND, disc: disc <= BURST_BOUND }).toEqual({
        call,
        scan: true,
        rot: true,
        disc: true,
      });
      // Logging: visitors after the fault are in the log.
      expect(logUnits(band)).toBeGreaterThan(unitsAfterFault);
      const s = await statusBySync(c);
      if (stuck) {
        // Counters are kept since the last reset (RAM): the reset itself is what tells.
      } else if (call === "Storage.write" && s.faults === 0) {
        // A write that failed is retried once after compaction: only a write that is lost is a fault.
        expect(hits.length).toBeLessThanOrEqual(times);
      } else if (hits.length) {
        expect(s.faults).toBeGreaterThan(0);
        expect(DUTIES_OF[call]).toContain(s.duty);
      } else {
        // Not called in this run (native crypto on a board without it, compaction on a roomy Storage).
        expect(s.faults).toBe(0);
      }
    });
  });
});

/** A watchdog reset when kicks stop: about three scan periods without a window end, then the 60 s timeout. */
const WATCHDOG_BOUND = 3 * PERIOD * 1.1 + WATCHDOG_S + DISCOVERY_BOUND;

describe.each(BOARDS)("%s: the watchdog on the simulator", (board) => {
  it("every timer cleared (all duties stop): reset within the watchdog timeout; the band runs again, clock kept", async () => {
    const c = setup(board, 183);
    c.world.run(1200);
    c.band.evaluate("clearTimeout()");
    const t0 = c.world.now;
    c.world.advance(2400);
    expect(c.band.watchdogResets).toBe(1);
    const after = c.band.watchdogResetTimes[0] - t0;
    console.log(`${board} all timers cleared: watchdog reset after ${after.toFixed(1)} s`);
    expect(after).toBeLessThanOrEqual(WATCHDOG_S + DISCOVERY_BOUND);
    expect(c.band.faults).toEqual([]);
    const reset = c.band.watchdogResetTimes[0];
    expect(longestGap(c.band.nrf.scanStarts, reset, c.world.now)).toBeLessThanOrEqual(SCAN_BOUND);
    expect(longestGap(c.band.nrf.connectableAdverts, reset, c.world.now)).toBeLessThanOrEqual(BURST_BOUND);
    // Clock kept through the reset (no power loss): the device clock is the world's, within its drift.
    expect(Math.abs(c.band.deviceTime() - (c.world.startUnix + c.world.now))).toBeLessThan(5);
    const s = await statusBySync(c);
    expect(s.timeValid).toBe(true);
    // The band reports the reset (kept in its journal).
    expect(s.resets).toBe(1);
  });

  it("NRF.setScan failing for good: the scan duty stops, a watchdog reset follows; it runs again once setScan works", async () => {
    const c = setup(board, 184);
    c.world.run(1200);
    c.band.injectFault("setScan", Infinity);
    const t0 = c.world.now;
    c.world.advance(WATCHDOG_BOUND + 120);
    const resets = c.band.watchdogResetTimes.map((t) => t - t0);
    console.log(
      `${board} setScan failing for good: watchdog resets after ${resets.map((x) => x.toFixed(0)).join(", ")} s`,
    );
    expect(resets.length).toBeGreaterThan(0);
    expect(resets[0]).toBeLessThanOrEqual(WATCHDOG_BOUND);
    c.band.clearFaults();
    const t1 = c.world.now;
    c.world.advance(1800);
    expect(longestGap(c.band.nrf.scanStarts, t1, c.world.now)).toBeLessThanOrEqual(SCAN_BOUND);
    expect(c.band.faults).toEqual([]);
    expect(Math.abs(c.band.deviceTime() - (c.world.startUnix + c.world.now))).toBeLessThan(5);
    // The failed scans before each reset and the resets themselves were kept across the resets.
    const s = await statusBySync(c);
    expect(s.resets).toBe(resets.length);
    expect(s.faults).toBeGreaterThan(resets.length);
    expect(["scan start", "scan end"]).toContain(s.duty);
  });
});

import { RECORD_SIZE } from "../../firmware/src/protocol/record-constants";
import { FAULT_DUTIES, STATUS_FLAG_TIME_VALID } from "../../firmware/src/protocol/sync";
import {
  DEFAULT_SCAN_PERIOD_S,
  DEFAULT_SCAN_WINDOW_MS,
  DISCOVERY_JITTER_MS,
  DISCOVERY_PERIOD_MS,
  ROTATE_MIN_MS,
  ROTATE_QUIET_MAX_MS,
  ROTATE_SPAN_MS,
  SCAN_RETRY_MS,
  WATCHDOG_S,
} from "../../firmware/src/tuning";
import { loadBoard } from "../../host-tools/src/boards/load";
import { RealBand } from "../../host-tools/src/espruino-real/band";
import { bootTestBand, kioskSync, longestGap, RealSync } from "../../host-tools/src/espruino-real/scenario";
import { Rng } from "../../host-tools/src/sim/rng";
import { BOARDS, casesFor, realInterpreterTests, sampleBoards } from "./helpers";

/**
 * Issue 18 in the real Espruino interpreter, every board's production bundle as flashed: exceptions injected into
 * the Espruino calls the firmware makes (board-shim.js __T.fail) cost one run of a duty, never the duty; a kiosk
 * sync reads the fault count and its duty in the status frame; when the duties stop, the hardware watchdog
 * (RealBand's host-side check) resets the band, which runs again with its clock. Short runs: the interpreter takes
 * roughly 8-15 s of wall time per virtual hour.
 */
const PERIOD = DEFAULT_SCAN_PERIOD_S;
const SCAN_BOUND = PERIOD * 1.1 + DEFAULT_SCAN_WINDOW_MS / 1000 + 1;
/** Rotations 10 or 20 minutes apart (10-20 without valid time); a new identity comes up after a quiet of varying length. */
const ROTATE_BOUND = (ROTATE_MIN_MS + ROTATE_SPAN_MS + ROTATE_QUIET_MAX_MS) / 1000 + 1;
/** Discovery bursts every 4-6 s (the watchdog's kicks). */
const DISCOVERY_BOUND = 7;
/** Bursts on air: a rotation's quiet between two, after which they start again at a random phase. */
const BURST_BOUND = DISCOVERY_BOUND + (DISCOVERY_PERIOD_MS + DISCOVERY_JITTER_MS + ROTATE_QUIET_MAX_MS) / 1000;
const WATCHDOG_BOUND = 3 * PERIOD * 1.1 + WATCHDOG_S + DISCOVERY_BOUND;
const START = Date.UTC(2026, 0, 5) / 1000;

/** One band with beacons around it; records scan window starts as the band opens them. */
class Life {
  scanStarts: number[] = [];
  private beacons: { address: string; packet: Uint8Array; rotateAt: number }[] = [];
  private cursor = { value: 0 };

  private constructor(
    public band: RealBand,
    private syncKey: Uint8Array,
    private rng: Rng,
  ) {
    for (let i = 0; i < 8; i++) this.beacons.push({ address: this.address(), packet: this.packet(), rotateAt: 0 });
  }

  static async start(board: string, seed: number): Promise<Life> {
    const rng = new Rng(`real-faults:${board}:${seed}`);
    const { band, prov } = await bootTestBand(board, rng, START);
    return new Life(band, prov.syncKey, rng.fork("radio"));
  }

  private address(): string {
    const b = this.rng.bytes(6);
    b[0] = (b[0] & 0x3f) | 0x40;
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":") + " random";
  }

  private packet(): Uint8Array {
    return new Uint8Array([2, 1, 0x1a, 3, 3, 0x6f, 0xfd, 23, 0x16, 0x6f, 0xfd, ...this.rng.bytes(20)]);
  }

  /** Runs the band to `seconds` after the start, feeding beacon reports (ids rotating every 10 min) while it scans. */
  runTo(seconds: number): void {
    const end = START + seconds;
    const band = this.band;
    let was = band.scanning;
    while (band.now < end) {
      if (band.scanning) {
        if (!was) this.scanStarts.push(band.now - START);
        was = true;
        band.advance(0.25);
        const batch = [];
        for (const b of this.beacons) {
          if (band.now >= b.rotateAt) {
            b.packet = this.packet();
            b.rotateAt = band.now + 600;
          }
          if (this.rng.chance(0.85))
            batch.push({ data: b.packet, rssi: -60 - this.rng.int(0, 20), address: b.address });
        }
        band.scanReports(batch);
      } else {
        was = false;
        band.interp.runUntil(end * 1000, () => band.scanning);
      }
    }
  }

  sync(): RealSync {
    return kioskSync(
      this.band,
      this.syncKey,
      this.rng.fork(`kiosk:${this.band.now}`),
      () => this.band.now,
      this.cursor,
    );
  }

  discovery(): number[] {
    return this.band.adverts.filter((a) => a.connectable && a.data).map((a) => a.t - START);
  }

  rotations(): number[] {
    return this.band.addresses.map((a) => a.t - START);
  }

  hits(name?: string): number[] {
    return this.band.injectedLog.filter((h) => name === undefined || h.name === name).map((h) => h.t - START);
  }

  /** Log units written (headers and records) in the band's log files. */
  logUnits(): number {
    let n = 0;
    for (const [name, f] of Object.entries(this.band.bandFiles()))
      if (/^tl\.e\d+$/.test(name))
        for (let p = 0; p + RECORD_SIZE <= f.length; p += RECORD_SIZE)
          if (f.subarray(p, p + RECORD_SIZE).some((b) => b !== 0xff)) n++;
    return n;
  }
}

/** Gaps per duty from `from` to now; asserts each within one period and that logging went on. */
function expectDutiesBack(life: Life, from: number, unitsAtFrom: number, label: string): Record<string, number> {
  const end = life.band.now - START;
  const g = {
    scan: longestGap(life.scanStarts, from, end),
    rotation: longestGap(life.rotations(), from, end),
    discovery: longestGap(life.discovery(), from, end),
  };
  console.log(
    `${label}: longest gap after the fault: scan ${g.scan.toFixed(1)} s, rotation ${g.rotation.toFixed(1)} s, ` +
      `discovery ${g.discovery.toFixed(1)} s; log units +${life.logUnits() - unitsAtFrom}`,
  );
  expect({
    scan: g.scan <= SCAN_BOUND,
    rotation: g.rotation <= ROTATE_BOUND,
    discovery: g.discovery <= BURST_BOUND,
  }).toEqual({ scan: true, rotation: true, discovery: true });
  expect(life.logUnits()).toBeGreaterThan(unitsAtFrom);
  return g;
}

/** The calls the firmware makes on its own, and the duties that make them (band.ts). */
const ONCE: Record<string, string[]> = {
  getBattery: ["scan end"],
  setScan: ["scan start", "scan end", "rotation"],
  setAdvertising: ["rotation", "discovery", "discovery end"],
  setAddress: ["rotation"],
  crypto: ["rotation"],
  "Storage.write": ["scan start", "scan end", "rotation", "scan report"],
  hwRand: ["scan end", "rotation", "discovery"],
};

realInterpreterTests()("faults on the real interpreter", () => {
  describe.each(BOARDS)("%s", (board) => {
    // Boards without native SHA-256 or AES (Pixl.js, puckjs-minimal) do their crypto in JavaScript: no Espruino
    // call to fail.
    const native = (b: string) => loadBoard(b).crypto.sha256 || loadBoard(b).crypto.aesEcb;
    // Each call on one board in CI (casesFor); TRACELET_FULL_MATRIX=1 fails every call on every board.
    test.each(casesFor(board, Object.keys(ONCE), (c, b) => c !== "crypto" || native(b)))(
      "%s fails once: every duty runs again within one period; the status counts it with its duty",
      async (call) => {
        const life = await Life.start(board, 3);
        life.runTo(900);
        life.band.injectFault(call, 1);
        // Until it fired (a rotation can be 20 minutes away), then a scan period and a rotation after it.
        while (!life.hits(call).length && life.band.now - START < 900 + 1500) life.runTo(life.band.now - START + 60);
        const hit = life.hits(call);
        expect(hit.length).toBe(1);
        const units = life.logUnits();
        life.runTo(hit[0] + ROTATE_BOUND + 60);
        expect(life.band.errors).toEqual([]);
        expect(life.band.watchdogResets).toBe(0);
        expectDutiesBack(life, hit[0], units, `${board} ${call} once`);
        const s = life.sync();
        expect(s.error).toBeUndefined();
        if (call === "Storage.write" && life.band.injectedLog.some((h) => h.recovered)) {
          // A write that fails is retried once after compaction: only a write that is lost is a fault.
          expect(s.status?.faults).toBe(0);
          expect(life.logUnits()).toBeGreaterThan(units);
          return;
        }
        expect(s.status?.faults).toBe(1);
        expect(ONCE[call]).toContain(FAULT_DUTIES[s.status?.lastFaultDuty ?? 0]);
      },
      300_000,
    );

    // An hour of the interpreter per board: two boards in CI (sampleBoards), all five with TRACELET_FULL_MATRIX=1.
    if (sampleBoards().includes(board)) {
      it("getBattery and setAdvertising fail for an hour: counted; every duty back within one period after", async () => {
        const life = await Life.start(board, 4);
        life.runTo(600);
        life.band.injectFault("getBattery", Infinity);
        life.band.injectFault("setAdvertising", Infinity);
        life.runTo(600 + 3600);
        life.band.injectFault("getBattery", 0);
        life.band.injectFault("setAdvertising", 0);
        const from = life.band.now - START;
        const units = life.logUnits();
        life.runTo(from + ROTATE_BOUND + 60);
        expect(life.band.errors).toEqual([]);
        expect(life.band.watchdogResets).toBe(0);
        expectDutiesBack(life, from, units, `${board} getBattery+setAdvertising for an hour`);
        const s = life.sync();
        expect(s.error).toBeUndefined();
        expect(s.status?.faults).toBe(life.hits().length);
        expect(["scan end", "discovery", "discovery end", "rotation"]).toContain(
          FAULT_DUTIES[s.status?.lastFaultDuty ?? 0],
        );
      }, 300_000);
    }

    it("a failed sync notification ends that link only; the kiosk's next link finishes the sync", async () => {
      const life = await Life.start(board, 5);
      life.runTo(600);
      life.band.injectFault("updateServices", 1);
      const first = life.sync();
      expect(life.hits("updateServices").length).toBe(1);
      // The band ended the link (no frame may go missing unseen); the kiosk found it again and resumed.
      expect(first.lost).toHaveLength(1);
      expect(first).toMatchObject({ links: 2, error: undefined, acked: first.status?.logEnd });
      life.runTo(life.band.now - START + 60);
      const s = life.sync();
      expect(s.error).toBeUndefined();
      expect(s).toMatchObject({ found: true, authenticated: true, links: 1 });
      expect(life.band.errors).toEqual([]);
    }, 300_000);

    it("every timer cleared (the duties stop): a watchdog reset within its timeout; the band runs on, clock kept", async () => {
      const life = await Life.start(board, 6);
      life.runTo(900);
      life.band.interp.exec("clearTimeout()");
      const t0 = life.band.now - START;
      life.runTo(t0 + 900);
      expect(life.band.watchdogResets).toBe(1);
      const after = life.band.watchdogResetTimes[0] - START - t0;
      console.log(`${board} all timers cleared: watchdog reset after ${after.toFixed(1)} s`);
      expect(after).toBeLessThanOrEqual(WATCHDOG_S + DISCOVERY_BOUND);
      const reset = life.band.watchdogResetTimes[0] - START;
      expect(longestGap(life.scanStarts, reset, life.band.now - START)).toBeLessThanOrEqual(SCAN_BOUND);
      expect(longestGap(life.discovery(), reset, life.band.now - START)).toBeLessThanOrEqual(BURST_BOUND);
      const s = life.sync();
      expect(s.error).toBeUndefined();
      // The clock went through the reset: the band's time is valid without the kiosk setting it.
      expect((s.status?.flags ?? 0) & STATUS_FLAG_TIME_VALID).toBeTruthy();
      // The band reports the reset (kept in its journal).
      expect(s.status?.resets).toBe(1);
      expect(life.band.errors).toEqual([]);
    }, 300_000);

    it("NRF.setScan refuses window starts: each is tried again 10 s later, up to 3 times; no window lost", async () => {
      const life = await Life.start(board, 8);
      life.runTo(900);
      // Two windows in a row refused once each, then a window and its first retry refused.
      const retries: number[][] = [];
      for (const times of [1, 1, 2]) {
        // Between windows, so that the next NRF.setScan call is a window start.
        while (life.band.scanning) life.runTo(life.band.now - START + 1);
        const hits: number[] = [];
        for (let k = 0; k < times; k++) {
          // One call refused at a time: the refused window's own stop call (0.8 s later) must go through.
          const before = life.hits("setScan").length;
          life.band.injectFault("setScan", 1);
          while (life.hits("setScan").length === before) life.runTo(life.band.now - START + 1);
          hits.push(life.hits("setScan")[before]);
          life.runTo(hits[k] + 2);
        }
        life.runTo(hits[hits.length - 1] + SCAN_RETRY_MS / 1000 + 5);
        const again = life.scanStarts.find((t) => t > hits[hits.length - 1]);
        expect(again).toBeDefined();
        // Each refused start to the next try: the next retry, or the window that started.
        retries.push([...hits.slice(1), again as number].map((t, i) => t - hits[i]));
      }
      console.log(
        `${board} setScan refused: windows tried again after ${JSON.stringify(retries.map((r) => r.map((x) => +x.toFixed(1))))} s`,
      );
      for (const r of retries.flat()) {
        expect(r).toBeGreaterThanOrEqual(SCAN_RETRY_MS / 1000 - 0.5);
        expect(r).toBeLessThanOrEqual(SCAN_RETRY_MS / 1000 + 1);
      }
      const hits = life.hits("setScan");
      // No scan stopped for longer than a period and the retries.
      expect(longestGap(life.scanStarts, hits[0] - PERIOD, life.band.now - START)).toBeLessThanOrEqual(
        SCAN_BOUND + (2 * SCAN_RETRY_MS) / 1000 + 2,
      );
      const s = life.sync();
      expect(s.error).toBeUndefined();
      expect(s.status?.faults).toBe(4);
      expect(FAULT_DUTIES[s.status?.lastFaultDuty ?? 0]).toBe("scan start");
      expect(life.band.errors).toEqual([]);
    }, 300_000);

    it("the new identity refused twice in a row (setAddress, then hwRand at the retry): quiet for seconds, not a minute", async () => {
      const life = await Life.start(board, 9);
      life.runTo(900);
      // The next rotation's wake fails (a rotation can be 20 minutes away), and the shim then fails the next call
      // for random bits: the retry's.
      life.band.interp.exec(
        '__T.f0=__T.f;__T.f=function(n){try{__T.f0(n)}catch(e){if(n==="setAddress")__T.fail.hwRand=1;throw e}}',
      );
      life.band.injectFault("setAddress", 1);
      while (!life.hits("hwRand").length && life.band.now - START < 900 + ROTATE_BOUND)
        life.runTo(life.band.now - START + 10);
      const first = life.hits("setAddress")[0];
      const second = life.hits("hwRand")[0];
      expect(first).toBeDefined();
      expect(second).toBeDefined();
      // The retry of the refused identity step is the next call to draw random bits.
      expect(second - first).toBeLessThanOrEqual(1.5);
      const units = life.logUnits();
      life.runTo(second + ROTATE_BOUND + 60);
      const bursts = life.discovery();
      const back = bursts.find((t) => t > second) as number;
      const last = [...bursts].reverse().find((t) => t < first) as number;
      console.log(
        `${board} setAddress then hwRand at a rotation: no burst from ${last.toFixed(1)} to ${back.toFixed(1)} s ` +
          `(faults at ${first.toFixed(1)}, ${second.toFixed(1)})`,
      );
      // Two faults cost two tries a second apart, within the bound of one rotation's quiet.
      expect(back - last).toBeLessThanOrEqual(BURST_BOUND + 2);
      expect(life.band.errors).toEqual([]);
      expectDutiesBack(life, first, units, `${board} setAddress+hwRand at a rotation`);
      const s = life.sync();
      expect(s.error).toBeUndefined();
      expect(s.status?.faults).toBe(2);
      expect(FAULT_DUTIES[s.status?.lastFaultDuty ?? 0]).toBe("rotation");
    }, 300_000);

    it("NRF.setScan failing for good: a watchdog reset within 3 scan periods + the timeout", async () => {
      const life = await Life.start(board, 7);
      life.runTo(600);
      life.band.injectFault("setScan", Infinity);
      const t0 = life.band.now - START;
      life.runTo(t0 + WATCHDOG_BOUND + 60);
      const resets = life.band.watchdogResetTimes.map((t) => t - START - t0);
      console.log(`${board} setScan failing for good: watchdog resets after ${resets.map((x) => x.toFixed(0))} s`);
      expect(resets.length).toBeGreaterThan(0);
      expect(resets[0]).toBeLessThanOrEqual(WATCHDOG_BOUND);
      expect(life.band.errors).toEqual([]);
    }, 300_000);
  });
});

import { pureCrypto } from "../../firmware/src/protocol/crypto";
import { escrowTek } from "../../firmware/src/protocol/escrow";
import { encodeProvisioning, Provisioning } from "../../firmware/src/protocol/provisioning";
import {
  decodeDataPayload,
  decodeStatus,
  encodeReadCommand,
  encodeWipeCommand,
  OP_ACK,
  OP_ACK_OK,
  OP_DATA,
  OP_READ,
  OP_READ_END,
  OP_READ_TEKS,
  OP_SET_TIME,
  OP_STATUS,
  OP_STATUS_REPLY,
  OP_TEKS_END,
  OP_TIME_OK,
  OP_WIPE,
  OP_WIPE_OK,
  STATUS_FLAG_TIME_VALID,
  u32Payload,
} from "../../firmware/src/protocol/sync";
import { readU32LE } from "../../firmware/src/protocol/bytes";
import { RealBand } from "../../host-tools/src/espruino-real/band";
import {
  findByDiscovery,
  hwRandSeed,
  kioskConnect,
  KioskFrame,
  testProvisioning,
} from "../../host-tools/src/espruino-real/scenario";
import { Rng } from "../../host-tools/src/sim/rng";
import { foundInFlash, tekDays } from "../helpers/flash-scan";
import { BOARDS, realInterpreterTests } from "./helpers";

/**
 * Issue 19 finding 4 in the real Espruino interpreter (every board's production bundle as flashed, its 8 MB NOR
 * flash image scanned byte by byte): an escrow band with 3 days of retention, synced by a kiosk around each midnight
 * it sees; no key past retention is left anywhere in flash, READ_TEKS without valid time gives no key, and after
 * WIPE with the identity flag no key, secret, id or log unit is left. The interpreter takes ~8 s of wall time per
 * virtual hour, so the band runs only around the midnights that matter (~22:00-00:30) and the days between are
 * skipped: the band restarts from its own flash image hours later with its clock running (a reset, which keeps the
 * clock), as if it had run them without making keys (a long scan period keeps each run short too).
 */
const DAY = 86400;
const RETENTION = 3;
/** Midnight UTC, 5 January 2026: day D0. */
const D0 = Date.UTC(2026, 0, 5) / 1000;

/** The band's life, driven like a kiosk and a few phones would: world time is the band's clock plus `offset`. */
class Life {
  offset = 0;
  units = new Map<number, Uint8Array>();
  cursor = 0;
  private beacons: { address: string; packet: Uint8Array }[] = [];

  constructor(
    public band: RealBand,
    readonly board: string,
    readonly prov: Provisioning,
    readonly rng: Rng,
  ) {
    for (let i = 0; i < 6; i++) {
      const a = rng.bytes(6);
      a[0] = (a[0] & 0x3f) | 0x40;
      this.beacons.push({
        address: Array.from(a, (x) => x.toString(16).padStart(2, "0")).join(":") + " random",
        packet: new Uint8Array([2, 1, 0x1a, 3, 3, 0x6f, 0xfd, 23, 0x16, 0x6f, 0xfd, ...rng.bytes(20)]),
      });
    }
  }

  now(): number {
    return this.band.now + this.offset;
  }

  /** Runs to world time `unix`, beacons in range while the band scans (new ids every scan window). */
  runTo(unix: number): void {
    const band = this.band;
    let was = false;
    while (this.now() < unix) {
      if (band.scanning) {
        if (!was) for (const b of this.beacons) b.packet.set(this.rng.bytes(20), 11);
        was = true;
        band.advance(0.25);
        band.scanReports(this.beacons.map((b) => ({ data: b.packet, rssi: -60, address: b.address })));
      } else {
        was = false;
        band.interp.runUntil((unix - this.offset) * 1000, () => band.scanning);
      }
    }
  }

  /** Restarts the band from its flash image at world time `unix`: a reset (`clockKept`) or a power loss. */
  async restart(unix: number, clockKept: boolean): Promise<void> {
    const image = this.band.interp.flash.slice();
    expect(this.band.errors).toEqual([]);
    this.band = await RealBand.boot({
      board: this.board,
      flash: image,
      startUnix: clockKept ? unix : 0,
      seed: hwRandSeed(this.rng.fork(`hwRand:${unix}`)),
    });
    this.offset = unix - this.band.now;
  }

  /** A kiosk session: finds the band by its discovery advert, authenticates, runs `body`, disconnects. */
  session<T>(body: (command: (op: number, payload: Uint8Array, reply: number) => KioskFrame[]) => T): T {
    const band = this.band;
    expect(findByDiscovery(band, this.prov.syncKey, 120)).toBeDefined();
    const link = kioskConnect(band, this.prov.syncKey, this.rng);
    try {
      expect(link.authenticate()).toBe(true);
      return body(link.command);
    } finally {
      band.disconnect();
    }
  }

  /** The daily sync: time, the log from the cursor (units kept by cursor), ACK. */
  sync(): void {
    this.session((command) => {
      command(OP_SET_TIME, u32Payload(Math.floor(this.now())), OP_TIME_OK);
      const end = status(command).logEnd;
      for (let page = 0; page < 100 && this.cursor < end; page++) {
        const frames = command(OP_READ, encodeReadCommand(this.cursor, 32), OP_READ_END);
        for (const f of frames)
          if (f.op === OP_DATA) {
            const d = decodeDataPayload(f.payload);
            if (d.ok) d.value.units.forEach((u, i) => this.units.set(d.value.cursor + i, u));
          }
        const e = frames.find((f) => f.op === OP_READ_END);
        if (!e) break;
        this.cursor = readU32LE(e.payload, 0);
      }
      command(OP_ACK, u32Payload(this.cursor), OP_ACK_OK);
    });
  }
}

type Command = (op: number, payload: Uint8Array, reply: number) => KioskFrame[];

function status(command: Command) {
  const f = command(OP_STATUS, new Uint8Array(0), OP_STATUS_REPLY).find((x) => x.op === OP_STATUS_REPLY);
  const s = f && decodeStatus(f.payload);
  if (!s || !s.ok) throw new Error("no STATUS reply");
  return s.value;
}

/** READ_TEKS: the days of the keys sent, and the count in TEKS_END. */
function readTeks(command: Command): { count: number; days: number[] } {
  return tekDays(command(OP_READ_TEKS, new Uint8Array(0), OP_TEKS_END));
}

realInterpreterTests()("deleted data does not stay in flash (real interpreter)", () => {
  test.each(BOARDS)(
    "%s: no key past retention in raw flash; READ_TEKS needs time; WIPE leaves no secret, key or log unit",
    async (board) => {
      const rng = new Rng(`real-deleted-data:${board}`);
      const start = D0 + 22 * 3600;
      const prov = testProvisioning(rng.fork("prov"), start, {
        mode: "escrow",
        retentionDays: RETENTION,
        // One scan window per boot (~5 s in): a few encounters in the log, and no scan cost in the runs.
        scanPeriodS: 65535,
      });
      const band = await RealBand.boot({
        board,
        files: { "tl.prov": encodeProvisioning(prov) },
        startUnix: start,
        seed: hwRandSeed(rng.fork("hwRand")),
      });
      const life = new Life(band, board, prov, rng.fork("life"));
      const day0 = D0 / DAY;
      const tek = (d: number) => escrowTek(pureCrypto, prov.bandSecret, d);
      // Around the midnights of days 1, 3 and 5: keys of days 0-5 are made; 0, 1 and 2 expire on the way.
      for (const d of [1, 3, 5]) {
        if (d > 1) await life.restart(D0 + (d - 1) * DAY + 22 * 3600, true);
        life.runTo(D0 + (d - 1) * DAY + 23 * 3600);
        life.sync();
        life.runTo(D0 + d * DAY + 1800);
        life.sync();
      }
      const today = day0 + 5;
      expect(Math.floor(life.now() / DAY)).toBe(today);
      let img = life.band.interp.flash;
      const live = [today - 2, today - 1, today].map(tek);
      expect(foundInFlash(img, live).length).toBe(RETENTION);
      expect(foundInFlash(img, [day0, day0 + 1, day0 + 2].map(tek))).toEqual([]);
      const units = [...life.units.values()];
      expect(units.length).toBeGreaterThan(10);
      expect(foundInFlash(img, units).length).toBe(units.length);

      // A power loss: the clock is not valid, READ_TEKS gives no key until the kiosk sets the time.
      await life.restart(life.now() + 60, false);
      life.session((command) => {
        expect(status(command).flags & STATUS_FLAG_TIME_VALID).toBe(0);
        expect(readTeks(command)).toEqual({ count: 0, days: [] });
        command(OP_SET_TIME, u32Payload(Math.floor(life.now())), OP_TIME_OK);
        expect(readTeks(command)).toEqual({ count: RETENTION, days: [today, today - 1, today - 2] });
        // WIPE with the identity flag.
        expect(command(OP_WIPE, encodeWipeCommand(1), OP_WIPE_OK).some((f) => f.op === OP_WIPE_OK)).toBe(true);
      });
      life.band.advance(10);
      expect(life.band.errors).toEqual([]);
      img = life.band.interp.flash;
      expect(foundInFlash(img, [prov.syncKey, prov.bandSecret, prov.bandId])).toEqual([]);
      const all = [];
      for (let d = day0; d <= today; d++) all.push(tek(d));
      expect(foundInFlash(img, all)).toEqual([]);
      expect(foundInFlash(img, units)).toEqual([]);
      // The firmware is still there (and booted again, unprovisioned).
      expect(life.band.interp.list()).toContain(".bootcde");
      expect(life.band.interp.list().filter((n) => n.startsWith("tl."))).toEqual([]);
    },
    900_000,
  );
});

import { readU32LE } from "../../../firmware/src/protocol/bytes";
import { pureCrypto } from "../../../firmware/src/protocol/crypto";
import { LogPage, LogPages } from "../../../firmware/src/protocol/log-mac";
import { encodeProvisioning, Provisioning, defaultProvisioning } from "../../../firmware/src/protocol/provisioning";
import {
  BandStatus,
  decodeDataPayload,
  decodeDiscoveryAdvert,
  decodeStatus,
  encodeReadCommand,
  KioskEvent,
  KioskSession,
  matchDiscovery,
  OP_ACK,
  OP_ACK_OK,
  OP_DATA,
  OP_READ,
  OP_READ_END,
  OP_SET_TIME,
  OP_STATUS,
  OP_STATUS_REPLY,
  OP_TIME_OK,
  u32Payload,
} from "../../../firmware/src/protocol/sync";
import { Rng } from "../sim/rng";
import { RealBand } from "./band";

/**
 * A band's life on the real interpreter: the production bundle with a provisioning record, beacons around it (other
 * bands and phones sending Exposure Notification adverts, rotating their ids), a kiosk sync at a set period through
 * the project's own kiosk-side protocol code, and power cuts at random flash bytes. Reports what a developer needs to
 * trust the band: interpreter errors, JsVars peaks, adverts, scan windows, what each sync read.
 */

export interface RealLifeOptions {
  board: string;
  hours: number;
  /** Exposure Notification beacons in range during scans. */
  beacons?: number;
  seed?: number;
  /** Hours between kiosk syncs (0: none). */
  syncEveryHours?: number;
  /** Power cuts at random flash bytes over the run. */
  powerCuts?: number;
  startUnix?: number;
  bundlePath?: string;
  /** Called after each boot, e.g. to inject faults. */
  onBoot?: (band: RealBand) => void;
}

export interface RealSync {
  t: number;
  found: boolean;
  authenticated: boolean;
  units: number;
  acked: number;
  status?: BandStatus;
  error?: string;
  /** The signed READ pages kept (protocol/log-mac.ts), as a kiosk would upload them. */
  pages: LogPage[];
  /** Links made (a sync the band's rotation or the radio cut resumes on the next). */
  links: number;
  /** Why each link before the last ended. */
  lost: string[];
}

export interface RealLifeResult {
  board: string;
  hours: number;
  errors: string[];
  /** Peak JsVars of the band's program (the emulator's empty interpreter and the shim subtracted), 14-byte vars. */
  peakProgramVars: number;
  /** JsVars in use after the last sync, same basis. */
  programVars: number;
  /** JsVars of the emulator's empty interpreter after start-up (the Bangle.js 2 firmware's own). */
  emptyVars: number;
  shimVars: number;
  boots: number;
  adverts: number;
  discoveryAdverts: number;
  addresses: number;
  scanWindows: number;
  reports: number;
  syncs: RealSync[];
  powerCuts: number;
  logBytes: number;
  wallSeconds: number;
}

/** A provisioning record from a seed (fresh keys, clock set by the flasher). */
export function testProvisioning(rng: Rng, startUnix: number, extra: Partial<Provisioning> = {}): Provisioning {
  return { ...defaultProvisioning(rng.bytes(8), rng.bytes(16), rng.bytes(16), startUnix), ...extra };
}

/**
 * A freshly provisioned band on the real interpreter: keys from `rng`'s "prov" stream, E.hwRand from its "hwRand"
 * stream, the clock set at `startUnix` as the flasher does.
 */
export async function bootTestBand(
  board: string,
  rng: Rng,
  startUnix: number,
  bundlePath?: string,
): Promise<{ band: RealBand; prov: Provisioning }> {
  const prov = testProvisioning(rng.fork("prov"), startUnix);
  const band = await RealBand.boot({
    board,
    bundlePath,
    files: { "tl.prov": encodeProvisioning(prov) },
    startUnix,
    seed: hwRandSeed(rng.fork("hwRand")),
  });
  return { band, prov };
}

/** E.hwRand's sfc32 state for a band, from a seed. */
export function hwRandSeed(rng: Rng): [number, number, number, number] {
  return [rng.u32(), rng.u32(), rng.u32(), rng.u32()];
}

interface Beacon {
  address: string;
  rssi: number;
  packet: Uint8Array;
  rotateAt: number;
}

function enPacket(rng: Rng): Uint8Array {
  // flags, 16-bit service UUID list (FD6F), service data FD6F: RPI (16) + AEM (4).
  const p = new Uint8Array([2, 1, 0x1a, 3, 3, 0x6f, 0xfd, 23, 0x16, 0x6f, 0xfd, ...rng.bytes(20)]);
  return p;
}

function beaconAddress(rng: Rng, bandLike: boolean): string {
  const b = rng.bytes(6);
  // Bands use random static addresses (top bits 11), phones resolvable private ones (top bits 01).
  b[0] = bandLike ? b[0] | 0xc0 : (b[0] & 0x3f) | 0x40;
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":") + " random";
}

/**
 * Runs the band until it sends a connectable advert whose discovery token matches `syncKey` (bands send a burst
 * every few seconds), as a kiosk finds it; returns that advert's address, or undefined after `seconds`.
 */
export function findByDiscovery(band: RealBand, syncKey: Uint8Array, seconds: number): string | undefined {
  const from = band.adverts.length;
  const deadline = band.now + seconds;
  while (band.now < deadline) {
    band.advance(1);
    for (let i = from; i < band.adverts.length; i++) {
      const a = band.adverts[i];
      if (!a.connectable || !a.data) continue;
      const d = decodeDiscoveryAdvert(a.data);
      if (d.ok && matchDiscovery(pureCrypto, [syncKey], d.value) === 0) return a.address;
    }
  }
  return undefined;
}

export type KioskFrame = Extract<KioskEvent, { type: "frame" }>;

/** The kiosk's end of a link to a band, as kioskConnect opens it. */
export interface KioskLinkEnd {
  session: KioskSession;
  /** What the session made of each frame the band sent (cleared by `command`). */
  events: KioskEvent[];
  /** Runs the band until an event matches, the link ends or `seconds` pass. */
  waitFor(pred: (e: KioskEvent) => boolean, seconds?: number): KioskEvent | undefined;
  /** Sends an authenticated command and runs the band until `reply` or an error comes: the frames received. */
  command(op: number, payload: Uint8Array, reply: number): KioskFrame[];
  /** The handshake: true when the session authenticated. */
  authenticate(): boolean;
}

/** Connects a kiosk with `syncKey` to the band (found already): the session answers the band's frames. */
export function kioskConnect(band: RealBand, syncKey: Uint8Array, rng: Rng): KioskLinkEnd {
  const session = new KioskSession(
    pureCrypto,
    syncKey,
    (n) => rng.bytes(n),
    () => band.now * 1000,
  );
  const events: KioskEvent[] = [];
  band.connect("kiosk", (f) => {
    const e = session.receive(f);
    events.push(e);
    if (e.type === "write") band.write(e.data);
  });
  const waitFor = (pred: (e: KioskEvent) => boolean, seconds = 10): KioskEvent | undefined => {
    const end = band.now + seconds;
    for (;;) {
      const e = events.find(pred);
      if (e || band.now >= end || !band.connected) return e;
      band.advance(0.05);
    }
  };
  const command = (op: number, payload: Uint8Array, reply: number) => {
    events.length = 0;
    band.write(session.command(op, payload));
    waitFor((e) => (e.type === "frame" && e.op === reply) || e.type === "error");
    return events.filter((e): e is KioskFrame => e.type === "frame");
  };
  const authenticate = () => {
    band.write(session.begin());
    waitFor((e) => e.type === "authenticated" || e.type === "error" || e.type === "invalid");
    return session.authenticated;
  };
  return { session, events, waitFor, command, authenticate };
}

export interface KioskSyncOptions {
  /** Units a READ asks for (32). */
  pageUnits?: number;
  /** After each page kept, with their count so far (a test's hook: it may end the link). */
  onPage?: (page: number) => void;
}

/** Links one kioskSync makes before it gives up (as the kiosk engine's connection attempts, kiosk/engine.ts open). */
export const KIOSK_SYNC_LINKS = 3;

/**
 * Runs one kiosk sync against the band as the kiosk does: find it by its discovery advert, authenticate, status, set
 * time, read pages from the cursor, ack. A link the band ends (a rotation lets a kiosk go ROTATE_GRACE_MS after it
 * was due, docs/protocol.md section 2) or that drops is found again by the band's next discovery advert, up to
 * KIOSK_SYNC_LINKS links, and the read resumes at the first page not yet kept: the pages kept are read once.
 */
export function kioskSync(
  band: RealBand,
  syncKey: Uint8Array,
  rng: Rng,
  worldUnix: () => number,
  cursor: { value: number },
  opts: KioskSyncOptions = {},
): RealSync {
  const t = band.now;
  const result: RealSync = { t, found: false, authenticated: false, units: 0, acked: 0, pages: [], links: 0, lost: [] };
  // A page is kept only when every frame of its READ arrived; otherwise the same cursor is read again.
  const pages = new LogPages(new Uint8Array(8));
  const read = { c: -1, page: 0, tries: 0 };
  for (let link = 1; link <= KIOSK_SYNC_LINKS; link++) {
    const from = { t: band.now, page: read.page };
    const done = kioskLink(band, syncKey, rng, worldUnix, cursor, opts, result, pages, read);
    if (done) break;
    result.lost.push(
      `link ${link} ended after ${read.page - from.page} pages in ${(band.now - from.t).toFixed(1)} s` +
        (result.error ? ": " + result.error : ""),
    );
    if (link < KIOSK_SYNC_LINKS) result.error = undefined;
  }
  result.pages = pages.pages;
  return result;
}

/** One link of kioskSync: true when the sync ended (acked, or failed with the link up: another would fail too). */
function kioskLink(
  band: RealBand,
  syncKey: Uint8Array,
  rng: Rng,
  worldUnix: () => number,
  cursor: { value: number },
  opts: KioskSyncOptions,
  result: RealSync,
  pages: LogPages,
  read: { c: number; page: number; tries: number },
): boolean {
  if (findByDiscovery(band, syncKey, 120) === undefined) {
    result.error = "no discovery advert matched the sync key within 120 s";
    return true;
  }
  result.found = true;
  result.links++;
  const { events, command, authenticate } = kioskConnect(band, syncKey, rng);
  try {
    if (!authenticate()) {
      result.error = "authentication failed: " + JSON.stringify(events.map((e) => e.type));
      return band.connected;
    }
    result.authenticated = true;
    const statusOf = () => {
      const f = command(OP_STATUS, new Uint8Array(0), OP_STATUS_REPLY).find((x) => x.op === OP_STATUS_REPLY);
      const s = f && decodeStatus(f.payload);
      return s && s.ok ? s.value : undefined;
    };
    let status = statusOf();
    if (!status) throw new Error("no STATUS reply");
    command(OP_SET_TIME, u32Payload(Math.floor(worldUnix())), OP_TIME_OK);
    status = statusOf() ?? status;
    result.status = status;
    if (read.c < 0) read.c = Math.max(cursor.value, status.logStart);
    for (; read.page < 400 && read.tries < 20 && read.c < status.logEnd;) {
      if (!band.connected) return false;
      pages.start();
      const frames = command(OP_READ, encodeReadCommand(read.c, opts.pageUnits ?? 32), OP_READ_END);
      let got: { next: number; kept: boolean } | undefined;
      for (const f of frames) got = pages.frame(f.op, f.payload, f.gap) ?? got;
      if (!got) {
        // No READ_END: the link is gone (another link resumes here), or the band did not answer.
        if (!band.connected) return false;
        break;
      }
      if (!got.kept) {
        read.tries++;
        continue;
      }
      read.page++;
      for (const f of frames)
        if (f.op === OP_DATA) {
          const d = decodeDataPayload(f.payload);
          if (d.ok) result.units += d.value.units.length;
        }
      opts.onPage?.(read.page);
      if (got.next === read.c) break;
      read.c = got.next;
    }
    const ack = command(OP_ACK, u32Payload(read.c), OP_ACK_OK).find((x) => x.op === OP_ACK_OK);
    if (!ack) {
      if (!band.connected) return false;
      result.error = "no ACK_OK reply";
      return true;
    }
    result.acked = readU32LE(ack.payload, 0);
    cursor.value = result.acked;
    return true;
  } catch (e) {
    result.error = (e as Error).message;
    return band.connected;
  } finally {
    if (band.connected) band.disconnect();
  }
}

export async function runRealLife(opts: RealLifeOptions): Promise<RealLifeResult> {
  const wall = Date.now();
  const rng = new Rng(`real-life:${opts.board}:${opts.seed ?? 1}`);
  const startUnix = opts.startUnix ?? Date.UTC(2026, 0, 5) / 1000;
  const first = await bootTestBand(opts.board, rng, startUnix, opts.bundlePath);
  const prov = first.prov;
  let band = first.band;
  opts.onBoot?.(band);
  // World time = band clock + offset (a power cut restarts the band's clock at zero).
  let offset = 0;
  const worldNow = () => band.now + offset;
  const end = startUnix + opts.hours * 3600;
  const radio = rng.fork("radio");
  const beacons: Beacon[] = [];
  for (let i = 0; i < (opts.beacons ?? 50); i++)
    beacons.push({
      address: beaconAddress(radio, i % 2 === 0),
      rssi: -55 - radio.int(0, 40),
      packet: enPacket(radio),
      rotateAt: startUnix + radio.int(0, 900),
    });
  const cutTimes: number[] = [];
  for (let i = 0; i < (opts.powerCuts ?? 0); i++)
    cutTimes.push(startUnix + radio.uniform(0.1, 0.9) * (end - startUnix));
  cutTimes.sort((a, b) => a - b);
  const syncPeriod = (opts.syncEveryHours ?? 24) * 3600;
  let nextSync = syncPeriod > 0 ? startUnix + Math.min(syncPeriod, opts.hours * 1800) : Infinity;
  const cursor = { value: 0 };
  const result: RealLifeResult = {
    board: opts.board,
    hours: opts.hours,
    errors: [],
    peakProgramVars: 0,
    programVars: 0,
    emptyVars: band.emptyBase,
    shimVars: band.shimVars(),
    boots: 0,
    adverts: 0,
    discoveryAdverts: 0,
    addresses: 0,
    scanWindows: 0,
    reports: 0,
    syncs: [],
    powerCuts: 0,
    logBytes: 0,
    wallSeconds: 0,
  };
  const collect = (b: RealBand) => {
    result.errors.push(...b.errors);
    result.peakProgramVars = Math.max(result.peakProgramVars, b.peakProgramVars());
    result.boots += b.boots;
    result.adverts += b.adverts.length;
    result.discoveryAdverts += b.adverts.filter((a) => a.connectable && a.data).length;
    result.addresses += b.addresses.length;
  };
  let wasScanning = false;
  while (worldNow() < end) {
    // A power cut armed for the next flash write after its time.
    if (cutTimes.length && worldNow() >= cutTimes[0]) {
      cutTimes.shift();
      band.interp.cutPowerAfterFlashBytes(radio.int(0, 64));
    }
    const image = band.interp.cutImage();
    if (image) {
      collect(band);
      result.powerCuts++;
      const off = 5;
      const at = worldNow() + off;
      band = await RealBand.boot({ board: opts.board, flash: image, startUnix: 0, seed: hwRandSeed(radio) });
      offset = at - band.now;
      opts.onBoot?.(band);
      cursor.value = 0;
      continue;
    }
    if (worldNow() >= nextSync) {
      result.syncs.push(kioskSync(band, prov.syncKey, rng.fork(`kiosk:${nextSync}`), worldNow, cursor));
      result.programVars = band.programVars();
      nextSync += syncPeriod;
      continue;
    }
    if (band.scanning) {
      if (!wasScanning) result.scanWindows++;
      wasScanning = true;
      band.advance(0.25);
      const now = worldNow();
      const batch: { data: Uint8Array; rssi: number; address: string }[] = [];
      for (const b of beacons) {
        if (now >= b.rotateAt) {
          b.packet = enPacket(radio);
          b.rotateAt = now + 600 + radio.int(0, 600);
        }
        // Each beacon advertises every ~250 ms; a report is lost now and then (collisions, fading).
        if (radio.chance(0.85)) batch.push({ data: b.packet, rssi: b.rssi + radio.int(-4, 4), address: b.address });
      }
      band.scanReports(batch);
      result.reports += batch.length;
    } else {
      wasScanning = false;
      const until = Math.min(end, nextSync, cutTimes.length ? cutTimes[0] : Infinity);
      band.interp.runUntil((until - offset) * 1000, () => band.scanning || band.interp.cutImage() !== undefined);
    }
  }
  collect(band);
  for (const b of Object.values(band.bandFiles())) result.logBytes += b.length;
  result.wallSeconds = (Date.now() - wall) / 1000;
  return result;
}

/**
 * The Espruino calls the firmware makes on its own (not under a sync) that fault injection can fail: the names
 * both harnesses take (RealBand.injectFault, the simulator's EspruinoDevice.injectFault).
 */
export const FAULT_CALLS = [
  "getBattery",
  "Storage.read",
  "Storage.write",
  "Storage.erase",
  "Storage.compact",
  "setAdvertising",
  "setAddress",
  "setScan",
  "hwRand",
  "crypto",
];

/** Longest wait for an event from `from` to `end`: to the first event, between events, and after the last. */
export function longestGap(times: number[], from: number, end: number): number {
  let last = from;
  let gap = 0;
  for (const t of times) {
    if (t < from || t > end) continue;
    gap = Math.max(gap, t - last);
    last = t;
  }
  return Math.max(gap, end - last);
}

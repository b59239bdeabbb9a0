import {
  asciiBytes,
  bytesEqual,
  copyBytes,
  Decoded,
  fail,
  floor,
  newBytes,
  ok,
  readU16LE,
  readU32LE,
  writeU16LE,
  writeU32LE,
} from "./bytes";
import { CryptoPrims } from "./crypto";
import { hmacSha256 } from "./hmac";
import {
  DIR_BAND,
  DIR_KIOSK,
  DISCOVERY_ADVERT_LENGTH,
  DISCOVERY_ADVERT_PREFIX,
  DISCOVERY_NONCE_BYTES,
  DISCOVERY_TOKEN_BYTES,
  FRAME_OVERHEAD,
  NONCE_BYTES,
  OP_AUTH_BEGIN,
  AUTH_FLAG_ENCRYPTED,
  OP_AUTH_OK,
  OP_AUTH_PROVE,
  OP_CHALLENGE,
  OP_ERROR,
  PROOF_BYTES,
  PUBLIC_STATE_AUTH_REQUIRED,
  PUBLIC_STATUS_VERSION,
  STATUS_BYTES,
  STATUS_FLAG_TIME_VALID,
  SYNC_PROTOCOL,
  SYNC_SERVICE_UUID,
  TAG_BYTES,
  TEK_PAYLOAD_BYTES,
  WIPE_CONFIRM,
  CONSOLE_CONFIRM,
} from "./sync-constants";
import { DecodedUnit, decodeUnit, EPOCH_MODULUS, ExportSegment, RECORD_SIZE } from "./record";
import { decodeV2Unit, V2_UNIT_SIZE, v3OfV2 } from "./record-v2";

export * from "./sync-constants";

/**
 * The band <-> kiosk sync protocol: discovery advert, GATT service, mutual authentication, authenticated frames,
 * status, paged log transfer and TEK read-out. docs/protocol.md is the prose version of this file; the band
 * (firmware/src/sync/) and the kiosk import these functions, so both sides compute the same bytes.
 *
 * Everything here is pure: nonces and keys come in as arguments.
 */

// ---------------------------------------------------------------------------------------------- GATT service

/** The service UUID as the 16 little-endian bytes an advert carries. */
export function uuidBytesLE(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, "");
  const out = newBytes(16);
  for (let i = 0; i < 16; i++) out[15 - i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

// ---------------------------------------------------------------------------------------------- discovery

/**
 * token = HMAC-SHA256(syncKey, "TL-DISC" || nonce)[0..6]. The nonce changes with every address rotation, so the
 * advert carries no static field; only a holder of the band's sync key can recognise it.
 */
export function discoveryToken(c: CryptoPrims, syncKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  const m = newBytes(7 + DISCOVERY_NONCE_BYTES);
  m.set(asciiBytes("TL-DISC"), 0);
  m.set(nonce, 7);
  return hmacSha256(c.sha256, syncKey, m).subarray(0, DISCOVERY_TOKEN_BYTES);
}

/** The connectable discovery advert. An unprovisioned band sends an all-zero nonce and token. */
export function encodeDiscoveryAdvert(nonce: Uint8Array, token: Uint8Array): Uint8Array {
  const p = newBytes(DISCOVERY_ADVERT_LENGTH);
  p.set(DISCOVERY_ADVERT_PREFIX, 0);
  p.set(nonce, 21);
  p.set(token, 25);
  return p;
}

export interface DiscoveryAdvert {
  nonce: Uint8Array;
  token: Uint8Array;
  /** True for the all-zero nonce and token of a band that has no provisioning record. */
  unprovisioned: boolean;
}

/** Reads the nonce and token from the 10 service-data bytes after the UUID (noble's serviceData[i].data). */
export function decodeDiscoveryServiceData(data: Uint8Array): Decoded<DiscoveryAdvert> {
  if (!data || data.length !== DISCOVERY_NONCE_BYTES + DISCOVERY_TOKEN_BYTES) {
    return fail("discovery service data must be 10 bytes, got " + (data ? data.length : 0));
  }
  let zero = true;
  for (let i = 0; i < data.length; i++) if (data[i]) zero = false;
  return ok({ nonce: copyBytes(data, 0, 4), token: copyBytes(data, 4, 6), unprovisioned: zero });
}

/** Finds the discovery service data in a raw advert; fails on anything else. */
export function decodeDiscoveryAdvert(raw: Uint8Array): Decoded<DiscoveryAdvert> {
  const uuid = uuidBytesLE(SYNC_SERVICE_UUID);
  let i = 0;
  while (i < raw.length) {
    const len = raw[i];
    if (len === 0) break;
    if (i + 1 + len > raw.length) return fail("AD structure at " + i + " runs past the end of the advert");
    if (raw[i + 1] === 0x21 && len === 27 && bytesEqual(copyBytes(raw, i + 2, 16), uuid)) {
      return decodeDiscoveryServiceData(copyBytes(raw, i + 18, 10));
    }
    i += 1 + len;
  }
  return fail("no Tracelet discovery data in advert");
}

/**
 * Kiosk side: which of the clinic's registered sync keys produced this advert's token. Returns the index into
 * `syncKeys`, or -1. Cost: one HMAC per key per new nonce (cache the answer per nonce).
 */
export function matchDiscovery(c: CryptoPrims, syncKeys: Uint8Array[], d: DiscoveryAdvert): number {
  if (d.unprovisioned) return -1;
  for (let i = 0; i < syncKeys.length; i++) {
    if (bytesEqual(discoveryToken(c, syncKeys[i], d.nonce), d.token)) return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------- operations

export const ERROR_NAMES: { [code: number]: string } = {
  1: "authentication required",
  2: "authentication failed (wrong or late proof, or too many challenges on one connection)",
  3: "malformed frame",
  4: "bad MAC",
  5: "band needs provisioning",
  6: "busy",
  7: "bad argument",
};

// ---------------------------------------------------------------------------------------------- authentication

/**
 * Both proofs from one HMAC: HMAC(K, "TL-AUTH" || Nb || Nk) = kiosk proof (bytes 0-15) || band proof (16-31).
 * The band reveals its half only after checking the kiosk's.
 */
export function authProofs(c: CryptoPrims, syncKey: Uint8Array, nb: Uint8Array, nk: Uint8Array): Uint8Array {
  return authMac(c, syncKey, "TL-AUTH", nb, nk);
}

function authMac(c: CryptoPrims, key: Uint8Array, label: string, a: Uint8Array, b: Uint8Array): Uint8Array {
  const m = newBytes(label.length + a.length + b.length);
  m.set(asciiBytes(label), 0);
  m.set(a, label.length);
  m.set(b, label.length + a.length);
  return hmacSha256(c.sha256, key, m);
}

export function kioskProof(c: CryptoPrims, syncKey: Uint8Array, nb: Uint8Array, nk: Uint8Array): Uint8Array {
  return authProofs(c, syncKey, nb, nk).subarray(0, PROOF_BYTES);
}

export function bandProof(c: CryptoPrims, syncKey: Uint8Array, nb: Uint8Array, nk: Uint8Array): Uint8Array {
  return authProofs(c, syncKey, nb, nk).subarray(PROOF_BYTES, 2 * PROOF_BYTES);
}

/**
 * Session key: HMAC(K, "TL-SESSION" || Nb || Nk || flags)[0..16], flags being the AUTH_OK flags byte: a man in the
 * middle who flips it leaves band and kiosk with different keys, and the first frame fails its MAC.
 */
export function sessionKey(
  c: CryptoPrims,
  syncKey: Uint8Array,
  nb: Uint8Array,
  nk: Uint8Array,
  flags: number,
): Uint8Array {
  const b = newBytes(NONCE_BYTES + 1);
  b.set(nk, 0);
  b[NONCE_BYTES] = flags;
  return authMac(c, syncKey, "TL-SESSION", nb, b).subarray(0, 16);
}

export function encodeAuthProve(nk: Uint8Array, proof: Uint8Array): Uint8Array {
  const f = newBytes(1 + NONCE_BYTES + PROOF_BYTES);
  f[0] = OP_AUTH_PROVE;
  f.set(nk, 1);
  f.set(proof, 1 + NONCE_BYTES);
  return f;
}

export function encodeError(code: number, arg: number): Uint8Array {
  const f = newBytes(4);
  f[0] = OP_ERROR;
  f[1] = code;
  writeU16LE(f, 2, arg > 65535 ? 65535 : arg);
  return f;
}

// ---------------------------------------------------------------------------------------------- framing

/** keystream block i = SHA256(Ks || "E" || dir || seq u16 LE || i); XOR with the payload (its own inverse). */
export function cryptPayload(c: CryptoPrims, ks: Uint8Array, dir: number, seq: number, p: Uint8Array): void {
  const m = newBytes(21);
  m.set(ks, 0);
  m[16] = 0x45;
  m[17] = dir;
  writeU16LE(m, 18, seq);
  let block: Uint8Array = newBytes(0);
  for (let i = 0; i < p.length; i++) {
    if ((i & 31) === 0) {
      m[20] = i >> 5;
      block = c.sha256(m);
    }
    p[i] ^= block[i & 31];
  }
}

function frameTag(c: CryptoPrims, ks: Uint8Array, dir: number, f: Uint8Array, len: number): Uint8Array {
  const m = newBytes(len + 1);
  m[0] = dir;
  for (let i = 0; i < len; i++) m[i + 1] = f[i];
  return hmacSha256(c.sha256, ks, m);
}

/**
 * An authenticated frame: op | seq u16 LE | payload | tag (8). When a session encrypts band frames (AUTH_OK flag
 * AUTH_FLAG_ENCRYPTED), the band encrypts the payload with cryptPayload before sealing (encrypt-then-MAC) and the
 * kiosk decrypts after opening; kiosk commands carry nothing secret and are only tagged.
 */
export function sealFrame(
  c: CryptoPrims,
  ks: Uint8Array,
  dir: number,
  op: number,
  seq: number,
  payload: Uint8Array,
): Uint8Array {
  const n = payload.length;
  const f = newBytes(n + FRAME_OVERHEAD);
  f[0] = op;
  writeU16LE(f, 1, seq);
  f.set(payload, 3);
  f.set(frameTag(c, ks, dir, f, n + 3).subarray(0, TAG_BYTES), n + 3);
  return f;
}

export interface Frame {
  op: number;
  seq: number;
  payload: Uint8Array;
}

/** Checks the tag; undefined when the frame is short or forged. Never throws. */
export function frameOpen(c: CryptoPrims, ks: Uint8Array, dir: number, f: Uint8Array): Frame | undefined {
  const n = f.length - FRAME_OVERHEAD;
  if (n < 0) return undefined;
  const tag = frameTag(c, ks, dir, f, n + 3);
  let diff = 0;
  for (let i = 0; i < TAG_BYTES; i++) diff |= tag[i] ^ f[n + 3 + i];
  if (diff) return undefined;
  return { op: f[0], seq: readU16LE(f, 1), payload: f.subarray(3, 3 + n) };
}

/** frameOpen with a reason. */
export function openFrame(c: CryptoPrims, ks: Uint8Array, dir: number, f: Uint8Array): Decoded<Frame> {
  if (!f || f.length < FRAME_OVERHEAD) return fail("frame shorter than " + FRAME_OVERHEAD + " bytes");
  const o = frameOpen(c, ks, dir, f);
  return o ? ok(o) : fail("bad frame MAC");
}

// ---------------------------------------------------------------------------------------------- payloads

export function u32Payload(v: number): Uint8Array {
  const p = newBytes(4);
  writeU32LE(p, 0, v);
  return p;
}

export function encodeReadCommand(cursor: number, maxUnits: number): Uint8Array {
  const p = newBytes(6);
  writeU32LE(p, 0, cursor);
  writeU16LE(p, 4, maxUnits);
  return p;
}

export function encodeWipeCommand(flags: number): Uint8Array {
  const p = newBytes(5);
  p.set(asciiBytes(WIPE_CONFIRM), 0);
  p[4] = flags;
  return p;
}

/** CONSOLE's payload: the confirmation alone. */
export function encodeConsoleCommand(): Uint8Array {
  return asciiBytes(CONSOLE_CONFIRM);
}

export function encodePublicStatus(state: number): Uint8Array {
  return new Uint8Array([0x54, 0x4c, 0x53, PUBLIC_STATUS_VERSION, state]);
}

export function decodePublicStatus(b: Uint8Array): Decoded<{ provisioned: boolean }> {
  if (!b || b.length < 5 || b[0] !== 0x54 || b[1] !== 0x4c || b[2] !== 0x53) return fail("bad public status magic");
  if (b[3] !== PUBLIC_STATUS_VERSION) return fail("unsupported public status version " + b[3]);
  if (b[4] > 1) return fail("unknown public state " + b[4]);
  return ok({ provisioned: b[4] === PUBLIC_STATE_AUTH_REQUIRED });
}

/** Board codes in the status (boards/<id>.json ids). */
export const BOARD_CODES = ["unknown", "puckjs", "pixljs", "mdbt42q", "banglejs2", "puckjs-minimal"];

export interface BandStatus {
  firmwareVersion: number;
  boardCode: number;
  batteryPercent: number;
  flags: number;
  /** The band's estimate of Unix time, 0 while its clock is not valid. */
  bandTime: number;
  /** Seconds since this boot (the monotonic counter that monotonic segments use). */
  uptime: number;
  bootEpoch: number;
  retentionDays: number;
  /** Measured clock drift, parts per million (positive: band clock runs fast). */
  driftPpm: number;
  /** Cursor of the oldest unit still in the log. */
  logStart: number;
  /** Cursor just past the newest unit. */
  logEnd: number;
  /** Everything before this cursor was acknowledged by a kiosk. */
  syncCursor: number;
  /** Base time of the oldest segment (Unix seconds; 0 if that segment has no valid time). */
  oldestTime: number;
  /** Faults the band caught since provisioning (kept in its journal across resets; saturates at 65535). */
  faults: number;
  /** Records currently stored (approximate after torn writes). */
  records: number;
  /** The duty of the last fault: FAULT_DUTIES index (0: none yet, or a callback that is not a duty). */
  lastFaultDuty: number;
  /** Resets since provisioning (watchdog or E.reboot: the band restarted with its clock; saturates at 255). */
  resets: number;
}

/** Fault codes of the band's duties (firmware/src/faults.ts; the order band.ts and sync-service.ts register). */
export const FAULT_DUTIES = [
  "other",
  "scan start",
  "scan end",
  "rotation",
  "discovery",
  "discovery end",
  "scan report",
  "sync pump",
  "sync watch",
];

/** Byte sizes of the status fields, in BandStatus order (offsets are their running sums); bytes, not numbers (JsVars). */
const STATUS_SIZES = new Uint8Array([1, 1, 1, 1, 4, 4, 1, 1, 2, 4, 4, 4, 4, 2, 2, 1, 1]);

export function encodeStatus(s: BandStatus): Uint8Array {
  return encodeStatusFields([
    s.firmwareVersion,
    s.boardCode,
    s.batteryPercent,
    s.flags,
    s.bandTime,
    s.uptime,
    s.bootEpoch,
    s.retentionDays,
    s.driftPpm,
    s.logStart,
    s.logEnd,
    s.syncCursor,
    s.oldestTime,
    s.faults,
    s.records,
    s.lastFaultDuty,
    s.resets,
  ]);
}

/** encodeStatus from the field values in BandStatus order (the band's form: no property names to carry). */
export function encodeStatusFields(v: number[]): Uint8Array {
  const b = newBytes(STATUS_BYTES);
  let o = 0;
  for (let i = 0; i < STATUS_SIZES.length; i++) {
    for (let k = 0; k < STATUS_SIZES[i]; k++) b[o++] = (v[i] >>> (8 * k)) & 255;
  }
  return b;
}

export function decodeStatus(b: Uint8Array): Decoded<BandStatus> {
  if (!b || b.length < STATUS_BYTES) return fail("status shorter than " + STATUS_BYTES + " bytes");
  const drift = readU16LE(b, 14);
  return ok({
    firmwareVersion: b[0],
    boardCode: b[1],
    batteryPercent: b[2],
    flags: b[3],
    bandTime: readU32LE(b, 4),
    uptime: readU32LE(b, 8),
    bootEpoch: b[12],
    retentionDays: b[13],
    driftPpm: drift > 32767 ? drift - 65536 : drift,
    logStart: readU32LE(b, 16),
    logEnd: readU32LE(b, 20),
    syncCursor: readU32LE(b, 24),
    oldestTime: readU32LE(b, 28),
    faults: readU16LE(b, 32),
    records: readU16LE(b, 34),
    lastFaultDuty: b[36],
    resets: b[37],
  });
}

/** TIME_OK: the band's error before the set (band - kiosk, seconds; 0x7FFFFFFF if it had no valid time) and drift. */
export function decodeTimeOk(p: Uint8Array): Decoded<{ errorSeconds: number | null; driftPpm: number }> {
  if (!p || p.length < 8) return fail("TIME_OK payload shorter than 8 bytes");
  const e = readU32LE(p, 0) | 0;
  return ok({ errorSeconds: e === 0x7fffffff ? null : e, driftPpm: readU32LE(p, 4) | 0 });
}

export interface TekEntry {
  rollingStartNumber: number;
  rollingPeriod: number;
  tek: Uint8Array;
}

/** TEK frame payload: index u8 | rollingPeriod u8 | rollingStartNumber u32 | TEK 16 (the count is in TEKS_END). */
export function encodeTekPayload(index: number, e: TekEntry): Uint8Array {
  const p = newBytes(TEK_PAYLOAD_BYTES);
  p[0] = index;
  p[1] = e.rollingPeriod;
  writeU32LE(p, 2, e.rollingStartNumber);
  p.set(e.tek, 6);
  return p;
}

export function decodeTekPayload(p: Uint8Array): Decoded<{ index: number; entry: TekEntry }> {
  if (!p || p.length !== TEK_PAYLOAD_BYTES) return fail("TEK payload must be " + TEK_PAYLOAD_BYTES + " bytes");
  if (p[1] < 1 || p[1] > 144) return fail("TEK rolling period out of range: " + p[1]);
  return ok({
    index: p[0],
    entry: { rollingStartNumber: readU32LE(p, 2), rollingPeriod: p[1], tek: copyBytes(p, 6, 16) },
  });
}

// ---------------------------------------------------------------------------------------------- log transfer

/** Units that fit one DATA frame for an ATT MTU (notification payload = MTU - 3). */
export function unitsPerChunk(mtu: number): number {
  const n = floor((mtu - 3 - FRAME_OVERHEAD - 4) / RECORD_SIZE);
  return n < 1 ? 1 : n;
}

/** DATA payload: cursor u32 of the first unit | units (`unitSize` bytes each, consecutive cursors). */
export function decodeDataPayload(p: Uint8Array, unitSize?: number): Decoded<{ cursor: number; units: Uint8Array[] }> {
  const size = unitSize || RECORD_SIZE;
  if (!p || p.length < 4 || (p.length - 4) % size !== 0) return fail("DATA payload is not cursor + whole units");
  const units: Uint8Array[] = [];
  for (let i = 4; i < p.length; i += size) units.push(copyBytes(p, i, size));
  return ok({ cursor: readU32LE(p, 0), units: units });
}

export interface LogUnit {
  cursor: number;
  bytes: Uint8Array;
}

export interface AssembledLog {
  segments: ExportSegment[];
  /** Units that were neither a valid record nor a valid segment header (torn writes), with a reason. */
  skipped: { cursor: number; reason: string }[];
  /** Records that arrived before any segment header and could not be placed in time. */
  orphans: number;
}

/**
 * Kiosk side: turns the units received (any order, duplicates allowed) into segments with their records, the
 * shape `encodeLogExport` writes as a TLX file. Torn records are skipped and reported.
 */
export function assembleLog(units: LogUnit[]): AssembledLog {
  const sorted = units.slice().sort((a, b) => a.cursor - b.cursor);
  if (sorted.length > 0 && sorted[0].bytes.length === V2_UNIT_SIZE) {
    // A log kept in format 2 (12-byte units): its segments converted to format 3 (record-v2.ts).
    const v2 = groupUnits(sorted, V2_UNIT_SIZE, decodeV2Unit);
    const first = v2.segments.length ? v2.segments[0].header.seq : 1;
    return { segments: v3OfV2(v2.segments, first), skipped: v2.skipped, orphans: v2.orphans };
  }
  return groupUnits(sorted, RECORD_SIZE, decodeUnit);
}

/**
 * Units sorted by cursor (duplicates skipped) grouped under the headers before them, with `decode` telling headers
 * from records; units of another size and undecodable ones are skipped with a reason, records before any header
 * counted as orphans.
 */
function groupUnits<H, R>(
  sorted: LogUnit[],
  size: number,
  decode: (b: Uint8Array, o: number) => DecodedUnit<H, R>,
): { segments: { header: H; records: R[] }[]; skipped: { cursor: number; reason: string }[]; orphans: number } {
  const segments: { header: H; records: R[] }[] = [];
  const skipped: { cursor: number; reason: string }[] = [];
  let orphans = 0;
  let last = -1;
  for (let i = 0; i < sorted.length; i++) {
    const u = sorted[i];
    if (u.cursor === last) continue;
    last = u.cursor;
    if (u.bytes.length !== size) {
      skipped.push({ cursor: u.cursor, reason: "unit of " + u.bytes.length + " bytes among " + size });
      continue;
    }
    const d = decode(u.bytes, 0);
    if (!d.ok) skipped.push({ cursor: u.cursor, reason: d.error });
    else if ("header" in d.value) segments.push({ header: d.value.header, records: [] });
    else if (segments.length === 0) orphans++;
    else segments[segments.length - 1].records.push(d.value.record);
  }
  return { segments: segments, skipped: skipped, orphans: orphans };
}

/**
 * Unix seconds of a record's first sighting. Monotonic segments (logged without valid time) are placed using
 * the band's status at sync: the boot that wrote them started at `bandTime - uptime` if they belong to the
 * current boot epoch; otherwise their time is unknown (null).
 */
export function recordTime(
  seg: ExportSegment,
  startMinute: number,
  status: { bandTime: number; uptime: number; bootEpoch: number; flags: number } | null,
): number | null {
  if (!seg.header.monotonic) return seg.header.baseTime + startMinute * 60;
  if (!status || !(status.flags & STATUS_FLAG_TIME_VALID) || status.bootEpoch % EPOCH_MODULUS !== seg.header.bootEpoch)
    return null;
  return status.bandTime - status.uptime + seg.header.baseTime + startMinute * 60;
}

// ---------------------------------------------------------------------------------------------- kiosk session

/** AUTH_OK must come back within this long of the kiosk's AUTH_PROVE (a cheap bound on slow relays). */
export const AUTH_REPLY_MS = 2000;

export type KioskEvent =
  /** Bytes the kiosk must write to the control characteristic next (the AUTH_PROVE answer to a challenge). */
  | { type: "write"; data: Uint8Array }
  | { type: "authenticated" }
  | { type: "error"; code: number; arg: number; message: string }
  /** An authenticated band frame, decrypted; `gap` is true when band frames were lost since the previous one. */
  | { type: "frame"; op: number; seq: number; payload: Uint8Array; gap: boolean }
  | { type: "invalid"; reason: string };

/**
 * The kiosk's half of a session, without any BLE: feed it every notification from the response characteristic
 * and write what it returns to the control characteristic.
 *
 *   const s = new KioskSession(pureCrypto, syncKey, (n) => randomBytes(n), Date.now);
 *   write(s.begin());
 *   on notify(f): const e = s.receive(f); if (e.type === "write") write(e.data); ...
 *   write(s.command(OP_STATUS, newBytes(0)));
 *
 * Each begin() draws a fresh kiosk nonce, so a recorded session cannot be replayed to it. It refuses a band that
 * does not encrypt (every protocol-2 band does), an AUTH_OK later than AUTH_REPLY_MS after its proof (with `now`),
 * and any band frame whose sequence number is not above the last one's; a decrypted payload is a copy, never the
 * caller's notification buffer.
 */
export class KioskSession {
  ks: Uint8Array | undefined;
  nb: Uint8Array | undefined;
  nk: Uint8Array | undefined;
  txSeq = 0;
  rxSeq = 0;
  /** When the last AUTH_PROVE was handed out (the `now` clock's milliseconds). */
  provedAt = 0;

  constructor(
    public c: CryptoPrims,
    public syncKey: Uint8Array,
    /** Cryptographically random bytes (the kiosk nonce). */
    public random: (n: number) => Uint8Array,
    /** Milliseconds, for the handshake's time bound; without it the bound is not checked. */
    public now?: () => number,
  ) {}

  get authenticated(): boolean {
    return this.ks !== undefined;
  }

  begin(): Uint8Array {
    this.ks = this.nb = undefined;
    this.nk = this.random(NONCE_BYTES);
    if (!this.nk || this.nk.length !== NONCE_BYTES) throw new Error("random source must return 16 bytes");
    return new Uint8Array([OP_AUTH_BEGIN]);
  }

  /** Seals an authenticated command with the next sequence number. */
  command(op: number, payload: Uint8Array): Uint8Array {
    if (!this.ks) throw new Error("not authenticated");
    if (this.txSeq >= 0xffff) throw new Error("session used up its sequence numbers: authenticate again");
    this.txSeq++;
    return sealFrame(this.c, this.ks, DIR_KIOSK, op, this.txSeq, payload);
  }

  receive(f: Uint8Array): KioskEvent {
    if (!f || !f.length) return { type: "invalid", reason: "empty notification" };
    const op = f[0];
    if (op === OP_ERROR) {
      const code = f.length > 1 ? f[1] : 0;
      return {
        type: "error",
        code: code,
        arg: f.length >= 4 ? readU16LE(f, 2) : 0,
        message: ERROR_NAMES[code] || "unknown error " + code,
      };
    }
    if (op === OP_CHALLENGE) {
      if (f.length !== 1 + NONCE_BYTES) return { type: "invalid", reason: "challenge must be 17 bytes" };
      if (!this.nk) return { type: "invalid", reason: "challenge without AUTH_BEGIN" };
      this.nb = copyBytes(f, 1, NONCE_BYTES);
      this.ks = undefined;
      this.provedAt = this.now ? this.now() : 0;
      return { type: "write", data: encodeAuthProve(this.nk, kioskProof(this.c, this.syncKey, this.nb, this.nk)) };
    }
    if (op === OP_AUTH_OK) {
      const nb = this.nb;
      const nk = this.nk;
      if (!nb || !nk || f.length < 2 + PROOF_BYTES) return { type: "invalid", reason: "unexpected AUTH_OK" };
      // One AUTH_OK per challenge; a new session needs begin() and a fresh nonce.
      this.nb = this.nk = undefined;
      if (this.now && this.now() - this.provedAt > AUTH_REPLY_MS) {
        return { type: "invalid", reason: "AUTH_OK came later than " + AUTH_REPLY_MS + " ms after the proof" };
      }
      if (!bytesEqual(copyBytes(f, 1, PROOF_BYTES), bandProof(this.c, this.syncKey, nb, nk))) {
        return { type: "invalid", reason: "band proof does not match: not the band this sync key belongs to" };
      }
      const flags = f[1 + PROOF_BYTES];
      if (flags >> 4 !== SYNC_PROTOCOL) {
        const v = flags >> 4 || 1;
        return {
          type: "invalid",
          reason: "band speaks sync protocol " + v + ", this kiosk " + SYNC_PROTOCOL + ": reflash it",
        };
      }
      if (!(flags & AUTH_FLAG_ENCRYPTED)) return { type: "invalid", reason: "band does not encrypt its frames" };
      this.ks = sessionKey(this.c, this.syncKey, nb, nk, flags);
      this.txSeq = this.rxSeq = 0;
      return { type: "authenticated" };
    }
    if (!this.ks) return { type: "invalid", reason: "frame before authentication" };
    const o = openFrame(this.c, this.ks, DIR_BAND, f);
    if (!o.ok) return { type: "invalid", reason: o.error };
    const seq = o.value.seq;
    if (seq <= this.rxSeq) {
      return { type: "invalid", reason: "replayed or reordered frame: seq " + seq + " after " + this.rxSeq };
    }
    const payload = copyBytes(o.value.payload, 0, o.value.payload.length);
    cryptPayload(this.c, this.ks, DIR_BAND, seq, payload);
    const gap = seq !== this.rxSeq + 1;
    this.rxSeq = seq;
    return { type: "frame", op: o.value.op, seq: seq, payload: payload, gap: gap };
  }
}

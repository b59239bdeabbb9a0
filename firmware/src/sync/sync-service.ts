import { LogChunk } from "../log/encounter-log";
import { writeU32LE } from "../protocol/bytes";
import { CryptoPrims } from "../protocol/crypto";
import {
  bandProof,
  DIR_BAND,
  DIR_KIOSK,
  encodeError,
  encodeTekPayload,
  ERR_AUTH_REQUIRED,
  ERR_BACKOFF,
  ERR_BAD_ARGUMENT,
  ERR_BAD_FRAME,
  ERR_BAD_MAC,
  ERR_BUSY,
  ERR_UNPROVISIONED,
  FRAME_OVERHEAD,
  kioskProof,
  NONCE_BYTES,
  OP_ACK,
  OP_ACK_OK,
  OP_AUTH_BEGIN,
  OP_AUTH_OK,
  OP_AUTH_PROVE,
  OP_CHALLENGE,
  OP_DATA,
  OP_READ,
  OP_READ_END,
  OP_READ_TEKS,
  OP_SET_TIME,
  OP_STATUS,
  OP_STATUS_REPLY,
  OP_TEK,
  OP_TEKS_END,
  OP_TIME_OK,
  OP_WIPE,
  OP_WIPE_OK,
  openFrame,
  sealFrame,
  sessionKey,
  TekEntry,
  u32Payload,
  unitsPerChunk,
  WIPE_CONFIRM,
} from "../protocol/sync";

/** What the sync service needs from the rest of the band. */
export interface SyncBand {
  status(): Uint8Array;
  /** Sets the clock from a kiosk; returns the TIME_OK payload. */
  setTime(unix: number): Uint8Array;
  teks(): TekEntry[];
  /** Closes open encounters into the log so a READ sees everything seen so far. */
  flush(): void;
  /** Moves the sync cursor; returns the band's cursor afterwards. */
  ack(cursor: number): number;
  /** Erases the band's data (flags bit 0: also its identity); called after WIPE_OK is queued. */
  wipe(flags: number): void;
  read(cursor: number, max: number): LogChunk | undefined;
  headerFor(cursor: number): number;
}

/** The BLE side: notifications, disconnect and a one-shot timer (its callbacks must already be guarded). */
export interface SyncLink {
  /** False when the stack refused the notification (buffers full): retried later. */
  notify(frame: Uint8Array): boolean;
  disconnect(): void;
  later(fn: () => void, ms: number): void;
}

export const AUTH_TIMEOUT_S = 10;
export const IDLE_TIMEOUT_S = 30;
export const MAX_BACKOFF_S = 256;
/** Notifications per pump and the pause between pumps: ~2.5 kB/s on MTU 53 without flooding the stack. */
const BURST = 4;
const PACE_MS = 20;

export interface SyncService {
  connect(): void;
  disconnect(): void;
  /** A write to the control characteristic. */
  write(d: Uint8Array): void;
  /** Called about once a second while connected: drops peers that do not authenticate or go idle. */
  check(): void;
}

function u32At(p: Uint8Array, i: number): number {
  return (p[i] | (p[i + 1] << 8) | (p[i + 2] << 16) | (p[i + 3] << 24)) >>> 0;
}

/**
 * The band's sync GATT service logic (docs/protocol.md section 7): mutual authentication with back-off,
 * authenticated commands, paged DATA streaming from a cursor. Pure: the radio, timers and band are passed in.
 */
export function createSyncService(
  c: CryptoPrims,
  key: Uint8Array | undefined,
  band: SyncBand,
  link: SyncLink,
  mtu: number,
  uptime: () => number,
  rand32: () => number,
): SyncService {
  const upc = unitsPerChunk(mtu);
  let nb: Uint8Array | undefined;
  let ks: Uint8Array | undefined;
  let rx = 0;
  let tx = 0;
  let fails = 0;
  let until = 0;
  let connected = false;
  let since = 0;
  let active = 0;
  let q: Uint8Array[] = [];
  let pumping = false;
  let flushed = false;
  /** READ in progress: next cursor (-1 when none), units left, header still to send (-1 when none). */
  let rc = -1;
  let rleft = 0;
  let rhdr = -1;
  let tekList: TekEntry[] | undefined;
  let tekIdx = 0;

  function reset(): void {
    nb = ks = tekList = undefined;
    rx = tx = 0;
    q = [];
    rc = rhdr = -1;
    flushed = false;
  }

  function seal(op: number, payload: Uint8Array): Uint8Array {
    return sealFrame(c, ks as Uint8Array, DIR_BAND, op, ++tx & 0xffff, payload);
  }

  /** The next streamed frame, or undefined when nothing is being streamed. */
  function produce(): Uint8Array | undefined {
    if (rc >= 0) {
      let r: LogChunk | undefined;
      if (rhdr >= 0) {
        r = band.read(rhdr, 1);
        rhdr = -1;
      } else if (rleft > 0) {
        r = band.read(rc, rleft < upc ? rleft : upc);
        if (r) {
          const n = r.bytes.length >> 4;
          rc = r.cursor + n;
          rleft -= n;
        }
      }
      if (r) {
        const p = new Uint8Array(4 + r.bytes.length);
        writeU32LE(p, 0, r.cursor);
        p.set(r.bytes, 4);
        return seal(OP_DATA, p);
      }
      const e = new Uint8Array(5);
      writeU32LE(e, 0, rc);
      e[4] = band.read(rc, 1) ? 1 : 0;
      rc = -1;
      return seal(OP_READ_END, e);
    }
    const list = tekList;
    if (list) {
      if (tekIdx < list.length) {
        const i = tekIdx++;
        return seal(OP_TEK, encodeTekPayload(i, list.length, list[i]));
      }
      tekList = undefined;
      return seal(OP_TEKS_END, new Uint8Array([list.length]));
    }
    return undefined;
  }

  /** Sends queued and streamed frames a few at a time, pausing between bursts and retrying refused ones. */
  function pump(delayMs: number): void {
    if (pumping) return;
    pumping = true;
    link.later(() => {
      pumping = false;
      if (!connected) return;
      for (let k = 0; k < BURST; k++) {
        if (!q.length) {
          const f = produce();
          if (!f) return;
          q.push(f);
        }
        if (!link.notify(q[0])) break;
        q.shift();
        active = uptime();
      }
      pump(PACE_MS);
    }, delayMs);
  }

  function send(f: Uint8Array): void {
    q.push(f);
    pump(0);
  }

  function error(code: number, arg: number): void {
    send(encodeError(code, arg));
  }

  function begin(): void {
    if (!key) return error(ERR_UNPROVISIONED, 0);
    const t = uptime();
    if (t < until) return error(ERR_BACKOFF, Math.ceil(until - t));
    nb = new Uint8Array(NONCE_BYTES);
    for (let i = 0; i < NONCE_BYTES; i += 4) writeU32LE(nb, i, rand32());
    ks = undefined;
    const f = new Uint8Array(1 + NONCE_BYTES);
    f[0] = OP_CHALLENGE;
    f.set(nb, 1);
    send(f);
  }

  function prove(d: Uint8Array): void {
    const n = nb;
    nb = undefined; // one attempt per challenge
    if (!key) return error(ERR_UNPROVISIONED, 0);
    if (!n) return error(ERR_AUTH_REQUIRED, 0);
    if (d.length !== 1 + 2 * NONCE_BYTES) return error(ERR_BAD_FRAME, 0);
    const nk = d.subarray(1, 1 + NONCE_BYTES);
    const want = kioskProof(c, key, n, nk);
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= want[i] ^ d[1 + NONCE_BYTES + i];
    if (diff) {
      fails++;
      const wait = fails > 9 ? MAX_BACKOFF_S : 1 << (fails - 1);
      until = uptime() + wait;
      error(ERR_BACKOFF, wait);
      link.later(() => {
        link.disconnect();
      }, 300);
      return;
    }
    fails = 0;
    ks = sessionKey(c, key, n, nk);
    rx = tx = 0;
    const f = new Uint8Array(1 + 16);
    f[0] = OP_AUTH_OK;
    f.set(bandProof(c, key, n, nk), 1);
    send(f);
  }

  function command(op: number, p: Uint8Array): void {
    if (op === OP_STATUS) return send(seal(OP_STATUS_REPLY, band.status()));
    if (op === OP_READ && p.length >= 6) {
      if (!flushed) {
        band.flush();
        flushed = true;
      }
      const cursor = u32At(p, 0);
      const h = band.headerFor(cursor);
      const first = band.read(cursor, 1);
      rhdr = first && h >= 0 && h < first.cursor ? h : -1;
      rc = cursor;
      rleft = p[4] | (p[5] << 8);
      return pump(0);
    }
    if (op === OP_ACK && p.length >= 4) return send(seal(OP_ACK_OK, u32Payload(band.ack(u32At(p, 0)))));
    if (op === OP_SET_TIME && p.length >= 4) return send(seal(OP_TIME_OK, band.setTime(u32At(p, 0))));
    if (op === OP_READ_TEKS) {
      tekList = band.teks();
      tekIdx = 0;
      return pump(0);
    }
    if (op === OP_WIPE && p.length >= 5) {
      let confirmed = true;
      for (let i = 0; i < 4; i++) if (p[i] !== WIPE_CONFIRM.charCodeAt(i)) confirmed = false;
      if (confirmed) {
        send(seal(OP_WIPE_OK, new Uint8Array(0)));
        return band.wipe(p[4]);
      }
    }
    error(ERR_BAD_ARGUMENT, op);
  }

  return {
    connect() {
      reset();
      connected = true;
      since = active = uptime();
    },
    disconnect() {
      connected = false;
      reset();
    },
    check() {
      const t = uptime();
      if (connected && ((!ks && t - since > AUTH_TIMEOUT_S) || (ks && t - active > IDLE_TIMEOUT_S))) link.disconnect();
    },
    write(d) {
      active = uptime();
      if (!d.length) return error(ERR_BAD_FRAME, 0);
      const op = d[0];
      if (op === OP_AUTH_BEGIN) return begin();
      if (op === OP_AUTH_PROVE) return prove(d);
      if (!ks) return error(key ? ERR_AUTH_REQUIRED : ERR_UNPROVISIONED, 0);
      const f = openFrame(c, ks, DIR_KIOSK, d);
      if (!f.ok || f.value.seq <= rx) {
        // Forged, corrupted or replayed: end the session.
        ks = undefined;
        return error(ERR_BAD_MAC, 0);
      }
      rx = f.value.seq;
      if (rc >= 0 || tekList) return error(ERR_BUSY, 0);
      command(f.value.op, f.value.payload);
    },
  };
}

/** Largest frame the band sends for an MTU (for the response characteristic's maxLen). */
export function maxFrameBytes(mtu: number): number {
  return FRAME_OVERHEAD + 4 + unitsPerChunk(mtu) * 16;
}

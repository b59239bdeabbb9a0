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
  read(cursor: number, max: number): { cursor: number; bytes: Uint8Array } | undefined;
  headerFor(cursor: number): number;
  /** True when units exist at or after `cursor`. */
  hasFrom(cursor: number): boolean;
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

/**
 * The band's sync GATT service logic (docs/protocol.md section 7): mutual authentication with back-off,
 * authenticated commands, paged DATA streaming from a cursor. Pure: the radio, timers and band are passed in.
 */
export class SyncService {
  nb: Uint8Array | undefined;
  ks: Uint8Array | undefined;
  rx = 0;
  tx = 0;
  fails = 0;
  until = 0;
  connected = false;
  since = 0;
  active = 0;
  q: Uint8Array[] = [];
  pumping = false;
  flushed = false;
  /** READ in progress: next cursor (-1 when none), units left, header still to send (-1 when none). */
  rc = -1;
  rleft = 0;
  rhdr = -1;
  tekList: TekEntry[] | undefined;
  tekIdx = 0;
  upc: number;

  constructor(
    public c: CryptoPrims,
    public key: Uint8Array | undefined,
    public band: SyncBand,
    public link: SyncLink,
    mtu: number,
    public uptime: () => number,
    public rand32: () => number,
  ) {
    this.upc = unitsPerChunk(mtu);
  }

  connect(): void {
    this.reset();
    this.connected = true;
    this.since = this.active = this.uptime();
  }

  disconnect(): void {
    this.connected = false;
    this.reset();
  }

  reset(): void {
    this.nb = this.ks = this.tekList = undefined;
    this.rx = this.tx = 0;
    this.q = [];
    this.rc = this.rhdr = -1;
    this.flushed = false;
  }

  /** Called about once a second while connected: drops peers that do not authenticate or go idle. */
  check(): void {
    if (!this.connected) return;
    const t = this.uptime();
    if ((!this.ks && t - this.since > AUTH_TIMEOUT_S) || (this.ks && t - this.active > IDLE_TIMEOUT_S)) {
      this.link.disconnect();
    }
  }

  /** A write to the control characteristic. */
  write(d: Uint8Array): void {
    this.active = this.uptime();
    if (!d.length) return this.send(encodeError(ERR_BAD_FRAME, 0));
    const op = d[0];
    if (op === OP_AUTH_BEGIN) return this.begin();
    if (op === OP_AUTH_PROVE) return this.prove(d);
    if (!this.ks) return this.send(encodeError(this.key ? ERR_AUTH_REQUIRED : ERR_UNPROVISIONED, 0));
    const f = openFrame(this.c, this.ks, DIR_KIOSK, d);
    if (!f.ok || f.value.seq <= this.rx) {
      // Forged, corrupted or replayed: end the session.
      this.ks = undefined;
      this.send(encodeError(ERR_BAD_MAC, 0));
      return;
    }
    this.rx = f.value.seq;
    if (this.rc >= 0 || this.tekList) return this.send(encodeError(ERR_BUSY, 0));
    this.command(f.value.op, f.value.payload);
  }

  begin(): void {
    if (!this.key) return this.send(encodeError(ERR_UNPROVISIONED, 0));
    const t = this.uptime();
    if (t < this.until) return this.send(encodeError(ERR_BACKOFF, Math.ceil(this.until - t)));
    const nb = new Uint8Array(NONCE_BYTES);
    for (let i = 0; i < NONCE_BYTES; i += 4) writeU32LE(nb, i, this.rand32());
    this.nb = nb;
    this.ks = undefined;
    const f = new Uint8Array(1 + NONCE_BYTES);
    f[0] = OP_CHALLENGE;
    f.set(nb, 1);
    this.send(f);
  }

  prove(d: Uint8Array): void {
    const nb = this.nb;
    const key = this.key;
    this.nb = undefined; // one attempt per challenge
    if (!key) return this.send(encodeError(ERR_UNPROVISIONED, 0));
    if (!nb) return this.send(encodeError(ERR_AUTH_REQUIRED, 0));
    if (d.length !== 1 + 2 * NONCE_BYTES) return this.send(encodeError(ERR_BAD_FRAME, 0));
    const nk = d.subarray(1, 1 + NONCE_BYTES);
    const want = kioskProof(this.c, key, nb, nk);
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= want[i] ^ d[1 + NONCE_BYTES + i];
    if (diff) {
      this.fails++;
      let wait = 1 << (this.fails - 1);
      if (wait > MAX_BACKOFF_S || this.fails > 9) wait = MAX_BACKOFF_S;
      this.until = this.uptime() + wait;
      this.send(encodeError(ERR_BACKOFF, wait));
      const link = this.link;
      link.later(function () {
        link.disconnect();
      }, 300);
      return;
    }
    this.fails = 0;
    this.ks = sessionKey(this.c, key, nb, nk);
    this.rx = this.tx = 0;
    const f = new Uint8Array(1 + 16);
    f[0] = OP_AUTH_OK;
    f.set(bandProof(this.c, key, nb, nk), 1);
    this.send(f);
  }

  seal(op: number, payload: Uint8Array): Uint8Array {
    return sealFrame(this.c, this.ks as Uint8Array, DIR_BAND, op, ++this.tx & 0xffff, payload);
  }

  command(op: number, p: Uint8Array): void {
    const band = this.band;
    if (op === OP_STATUS) return this.send(this.seal(OP_STATUS_REPLY, band.status()));
    if (op === OP_READ && p.length >= 6) {
      if (!this.flushed) {
        band.flush();
        this.flushed = true;
      }
      const cursor = (p[0] | (p[1] << 8) | (p[2] << 16) | (p[3] << 24)) >>> 0;
      const h = band.headerFor(cursor);
      const first = band.read(cursor, 1);
      this.rhdr = first && h >= 0 && h < first.cursor ? h : -1;
      this.rc = cursor;
      this.rleft = p[4] | (p[5] << 8);
      return this.pump(0);
    }
    if (op === OP_ACK && p.length >= 4) {
      const cur = band.ack((p[0] | (p[1] << 8) | (p[2] << 16) | (p[3] << 24)) >>> 0);
      return this.send(this.seal(OP_ACK_OK, u32Payload(cur)));
    }
    if (op === OP_SET_TIME && p.length >= 4) {
      const unix = (p[0] | (p[1] << 8) | (p[2] << 16) | (p[3] << 24)) >>> 0;
      return this.send(this.seal(OP_TIME_OK, band.setTime(unix)));
    }
    if (op === OP_READ_TEKS) {
      this.tekList = band.teks();
      this.tekIdx = 0;
      return this.pump(0);
    }
    if (op === OP_WIPE && p.length >= 5) {
      let okWipe = true;
      for (let i = 0; i < 4; i++) if (p[i] !== WIPE_CONFIRM.charCodeAt(i)) okWipe = false;
      if (okWipe) {
        this.send(this.seal(OP_WIPE_OK, new Uint8Array(0)));
        band.wipe(p[4]);
        return;
      }
    }
    this.send(encodeError(ERR_BAD_ARGUMENT, op));
  }

  /** The next streamed frame, or undefined when nothing is being streamed. */
  produce(): Uint8Array | undefined {
    const band = this.band;
    if (this.rc >= 0) {
      let r: { cursor: number; bytes: Uint8Array } | undefined;
      if (this.rhdr >= 0) {
        r = band.read(this.rhdr, 1);
        this.rhdr = -1;
      } else if (this.rleft > 0) {
        r = band.read(this.rc, this.rleft < this.upc ? this.rleft : this.upc);
        if (r) {
          const n = r.bytes.length >> 4;
          this.rc = r.cursor + n;
          this.rleft -= n;
        }
      }
      if (r) {
        const p = new Uint8Array(4 + r.bytes.length);
        writeU32LE(p, 0, r.cursor);
        p.set(r.bytes, 4);
        return this.seal(OP_DATA, p);
      }
      const e = new Uint8Array(5);
      writeU32LE(e, 0, this.rc);
      e[4] = band.hasFrom(this.rc) ? 1 : 0;
      this.rc = -1;
      return this.seal(OP_READ_END, e);
    }
    const list = this.tekList;
    if (list) {
      if (this.tekIdx < list.length) {
        const i = this.tekIdx++;
        return this.seal(OP_TEK, encodeTekPayload(i, list.length, list[i]));
      }
      this.tekList = undefined;
      return this.seal(OP_TEKS_END, new Uint8Array([list.length]));
    }
    return undefined;
  }

  send(f: Uint8Array): void {
    this.q.push(f);
    this.pump(0);
  }

  /** Sends queued and streamed frames a few at a time, pausing between bursts and retrying refused ones. */
  pump(delayMs: number): void {
    if (this.pumping) return;
    this.pumping = true;
    this.link.later(() => {
      this.pumping = false;
      if (!this.connected) return;
      for (let k = 0; k < BURST; k++) {
        if (!this.q.length) {
          const f = this.produce();
          if (!f) return;
          this.q.push(f);
        }
        if (!this.link.notify(this.q[0])) break;
        this.q.shift();
        this.active = this.uptime();
      }
      this.pump(PACE_MS);
    }, delayMs);
  }
}

/** Largest frame the band sends for an MTU (for the response characteristic's maxLen). */
export function maxFrameBytes(mtu: number): number {
  return FRAME_OVERHEAD + 4 + unitsPerChunk(mtu) * 16;
}

import { duties } from "../faults";
import * as log from "../log/encounter-log";
import { LogChunk } from "../log/encounter-log";
import * as state from "../state/band-state";
import { Platform, Radio, Timers } from "../hw/types";
import { newBytes, readU32LE, writeU32LE } from "../protocol/bytes";
import { CryptoPrims } from "../protocol/crypto";
import { logKey, pageMac, pagePrefix } from "../protocol/log-mac";
import { RECORD_SIZE } from "../protocol/record-constants";
import {
  AUTH_FLAGS,
  authProofs,
  CONSOLE_CONFIRM_U32,
  cryptPayload,
  DIR_BAND,
  DIR_KIOSK,
  encodeError,
  ERR_AUTH_REQUIRED,
  ERR_AUTH_FAILED,
  ERR_BUSY,
  ERR_BAD_ARGUMENT,
  ERR_BAD_MAC,
  ERR_UNPROVISIONED,
  FRAME_OVERHEAD,
  NONCE_BYTES,
  OP_ACK,
  OP_ACK_OK,
  OP_AUTH_BEGIN,
  OP_AUTH_OK,
  OP_AUTH_PROVE,
  OP_CHALLENGE,
  OP_CONSOLE,
  OP_CONSOLE_OK,
  OP_DATA,
  OP_READ,
  OP_READ_END,
  OP_READ_TEKS,
  OP_SET_TIME,
  OP_STATUS,
  OP_STATUS_REPLY,
  STATUS_BYTES,
  OP_TEK,
  OP_TEKS_END,
  OP_TIME_OK,
  OP_WIPE,
  OP_WIPE_OK,
  frameOpen,
  PROOF_BYTES,
  sealFrame,
  sessionKey,
  TEK_PAYLOAD_BYTES,
  u32Payload,
  unitsPerChunk,
  WIPE_CONFIRM_U32,
} from "../protocol/sync";
import {
  AUTH_WINDOW_MS,
  BURST,
  DROP_MS,
  MAX_CHALLENGES,
  MAX_QUEUE,
  MAX_READ_UNITS,
  PACE_MS,
  PROVE_S,
  WATCH_MS,
  WATCH_S,
} from "../tuning";

/** What the sync service needs from the band besides its log and state modules. */
export interface SyncBand {
  status(): Uint8Array;
  /** Sets the clock from a kiosk; returns the TIME_OK payload. */
  setTime(unix: number): Uint8Array;
  /** Closes open encounters into the log so that a READ sees everything seen so far. */
  flush(): void;
  /** Erases the band's data (flags bit 0: also its identity); called after WIPE_OK is queued. */
  wipe(flags: number): void;
}

/*
 * The band's sync GATT service logic (docs/protocol.md section 7): mutual authentication, authenticated and
 * encrypted commands, paged DATA streaming from a cursor. No state outlives a connection except the log and the
 * band state: a stranger's failed attempts cost the next kiosk nothing. A peer that steps outside the protocol
 * (anything but AUTH_BEGIN/AUTH_PROVE before authenticating, a wrong or late proof, a third challenge, a bad MAC,
 * a command while the queue is full) gets one error reply and loses the link; its later writes are ignored. A module-level singleton: `init` sets it up with
 * the crypto, the sync key (undefined: unprovisioned), the band hooks and the radio link.
 */
let c: CryptoPrims;
let key: Uint8Array | undefined;
let band: SyncBand;
let radio: Radio;
let timers: Timers;
let p: Platform;
let upc = 1;
let nb: Uint8Array | undefined;
let ks: Uint8Array | undefined;
let rx = 0;
let tx = 0;
/** Challenges on this connection, and the uptime of the last one (AUTH_PROVE must follow within PROVE_S). */
let challenges = 0;
let challengeAt = 0;
/** The peer is being dropped: ignore its writes until the link ends. */
let dropped = false;
let connected = false;
let active = 0;
/** The watch timer: the next connection cancels it, so a stale one never cuts a later peer short. */
let watcher: unknown;
/**
 * Frames waiting to be notified, in order (a READ queues its whole page, at most MAX_READ_UNITS units), and beside
 * each the op of a reply still to be encrypted and sealed (0: a frame ready as it is). A reply is sealed when its
 * turn comes, so a page's sealed frames are never all in memory at once (the band's memory peak is a sync).
 */
let q: Uint8Array[] = [];
let qo: number[] = [];
let pumping = false;
let flushed = false;
let lk: Uint8Array | undefined;
let lp: Uint8Array | undefined;
/**
 * The console: 1 asked for in this session (CONSOLE), 2 on (the Nordic UART service is up until the band restarts).
 * Nothing persists it: a restart brings the band back without it.
 */
let uart = 0;

/** The radio's notify/disconnect and the timers' callbacks must already be guarded (hw/espruino.ts). */
export function init(
  crypto: CryptoPrims,
  syncKey: Uint8Array | undefined,
  hooks: SyncBand,
  r: Radio,
  t: Timers,
  platform: Platform,
  mtu: number,
): void {
  c = crypto;
  key = syncKey;
  band = hooks;
  radio = r;
  timers = t;
  p = platform;
  upc = unitsPerChunk(mtu);
  duties.push(pumpNow, watch);
  connected = pumping = false;
  // An unprovisioned band keeps its console (setupServices): it holds no identity or data yet, and the flasher
  // finishes it over Bluetooth.
  uart = syncKey ? 0 : 2;
  reset();
}

function reset(): void {
  nb = ks = undefined;
  rx = tx = challenges = 0;
  q = [];
  qo = [];
  flushed = dropped = false;
}

/**
 * Sends queued frames a few at a time, pausing between bursts. The stack drops a notification silently while its
 * queue is full (the kiosk sees the gap in sequence numbers and reads again from its cursor); a notification it
 * refuses would be refused again (a frame longer than the characteristic, services changed), so the band ends the
 * link instead of retrying: the kiosk reconnects and resumes.
 */
function pump(delayMs: number): void {
  if (pumping) return;
  pumping = true;
  timers.after(pumpNow, delayMs);
}

function pumpNow(): void {
  pumping = false;
  // The next burst first: a fault while notifying costs a frame (the kiosk reads again), never the queue.
  if (connected && q.length > BURST) pump(PACE_MS);
  for (let k = 0; connected && q.length && k < BURST; k++) {
    let f = q.shift() as Uint8Array;
    const op = qo.shift() as number;
    if (op) {
      // A reply: its payload encrypted in place, then sealed (encrypt-then-MAC), numbered as it goes out.
      tx++;
      cryptPayload(c, ks as Uint8Array, DIR_BAND, tx, f);
      f = sealFrame(c, ks as Uint8Array, DIR_BAND, op, tx, f);
    }
    if (!radio.notify(f)) {
      q = [];
      qo = [];
      radio.disconnect();
    }
    active = p.uptime();
  }
}

/**
 * Queues a frame as it is, or with `op` a reply: an authenticated band frame whose payload `f` pumpNow encrypts (in
 * place: nothing may change it meanwhile) and seals when its turn comes.
 */
function send(f: Uint8Array, op?: number): void {
  q.push(f);
  qo.push(op || 0);
  pump(0);
}

/**
 * Ends the session: one error reply (so that a kiosk learns why), then the link, DROP_MS later; writes until then
 * are ignored, so a flooding peer costs one queued frame.
 */
function drop(code: number, arg: number): void {
  nb = ks = undefined;
  dropped = true;
  q = [];
  qo = [];
  send(encodeError(code, arg));
  timers.after(radio.disconnect, DROP_MS);
}

/**
 * Queues DATA frames with up to `max` units from `cursor`, then READ_END with the next cursor and the page MAC
 * (protocol/log-mac.ts). A kiosk that lacks the segment header governing `cursor` reads from the start of its file
 * instead (cursor rounded down to 256: unit 0 is a header). A page ends at the end of a log file, so its units
 * have consecutive cursors.
 */
function read(cursor: number, max: number): void {
  if (!flushed) band.flush();
  flushed = true;
  if (max > MAX_READ_UNITS) max = MAX_READ_UNITS;
  // The page MAC's message, "TL-LOG" | band id | P1..Pn | next cursor, built in place: the DATA payloads are
  // views into it, sent once it is hashed (pumpNow encrypts them in place as it sends them).
  const m = newBytes(18 + max * (4 + RECORD_SIZE));
  m.set(lp as Uint8Array, 0);
  let o = 14;
  let all = max;
  let r: LogChunk | undefined;
  let want = 0;
  while (max > 0 && (r = log.read(cursor, (want = max < upc ? max : upc)))) {
    // A file's last chunk may fill `want` exactly: the next read is the next file's, another cursor run.
    if (o > 14 && r.cursor !== cursor) break;
    const n = r.bytes.length / RECORD_SIZE;
    writeU32LE(m, o, r.cursor);
    m.set(r.bytes, o + 4);
    o += 4 + r.bytes.length;
    cursor = r.cursor + n;
    max -= n;
    if (n < want) break;
  }
  writeU32LE(m, o, cursor);
  // READ_END: the next cursor (the log continues while it is below the status's log end) | page MAC 16.
  const e = newBytes(20);
  writeU32LE(e, 0, cursor);
  e.set(pageMac(c.sha256, lk as Uint8Array, m.subarray(0, o + 4)), 4);
  // Every payload but a short last one holds min(units left, upc) units, as read.
  for (let i = 14; i < o;) {
    let n = all < upc ? all : upc;
    if (n > (o - i - 4) / RECORD_SIZE) n = (o - i - 4) / RECORD_SIZE;
    const j = i + 4 + n * RECORD_SIZE;
    send(m.subarray(i, j), OP_DATA);
    all -= n;
    i = j;
  }
  send(e, OP_READ_END);
}

/** The log key (from the band secret, protocol/log-mac.ts) and band id that sign READ pages; set at boot. */
export function setLogKey(bandSecret: Uint8Array, bandId: Uint8Array): void {
  lk = logKey(c.sha256, bandSecret);
  lp = pagePrefix(bandId);
}

function begin(): void {
  if (++challenges > MAX_CHALLENGES) return drop(ERR_AUTH_FAILED, 0);
  challengeAt = p.uptime();
  const f = newBytes(1 + NONCE_BYTES);
  f[0] = OP_CHALLENGE;
  for (let i = 1; i < f.length; i += 4) writeU32LE(f, i, p.rand32());
  nb = f.subarray(1);
  // A new challenge ends the session: replies still queued cannot be sealed any more (no session key).
  ks = undefined;
  q = [];
  qo = [];
  send(f);
}

function prove(k: Uint8Array, d: Uint8Array): void {
  const n = nb;
  nb = undefined; // one attempt per challenge
  if (!n) return drop(ERR_AUTH_REQUIRED, 0);
  const nk = d.subarray(1, 1 + NONCE_BYTES);
  const proofs = authProofs(c, k, n, nk);
  // A short, wrong or late proof fails alike (a late one: a slow relay, or a guesser taking its time).
  let diff = d.length ^ (1 + NONCE_BYTES + PROOF_BYTES);
  for (let i = 0; i < PROOF_BYTES; i++) diff |= proofs[i] ^ d[1 + NONCE_BYTES + i];
  if (diff || p.uptime() - challengeAt > PROVE_S) return drop(ERR_AUTH_FAILED, 0);
  ks = sessionKey(c, k, n, nk, AUTH_FLAGS);
  rx = tx = 0;
  const f = newBytes(2 + PROOF_BYTES);
  f[0] = OP_AUTH_OK;
  f.set(proofs.subarray(PROOF_BYTES, 2 * PROOF_BYTES), 1);
  f[1 + PROOF_BYTES] = AUTH_FLAGS;
  send(f);
}

function command(op: number, p: Uint8Array): void {
  const arg = p.length >= 4 ? readU32LE(p, 0) : -1;
  if (op === OP_STATUS) send(band.status(), OP_STATUS_REPLY);
  else if (op === OP_READ && p.length >= 6) read(arg, p[4] | (p[5] << 8));
  else if (op === OP_ACK && arg >= 0) {
    const end = log.cursorEnd();
    state.setCursor(arg < end ? arg : end);
    log.setSyncCursor(state.syncCursor());
    send(u32Payload(state.syncCursor()), OP_ACK_OK);
  } else if (op === OP_SET_TIME && arg >= 0) send(band.setTime(arg), OP_TIME_OK);
  else if (op === OP_READ_TEKS) {
    // Newest first; a TEK frame's payload is the journal slot with its first byte replaced by the index.
    const list = state.tekSlots();
    for (let i = 0; i < list.length; i++) {
      const s = list[list.length - 1 - i].subarray(0, TEK_PAYLOAD_BYTES);
      s[0] = i;
      send(s, OP_TEK);
    }
    send(new Uint8Array([list.length]), OP_TEKS_END);
  } else if (op === OP_WIPE && arg === WIPE_CONFIRM_U32 && p.length >= 5) {
    send(newBytes(0), OP_WIPE_OK);
    band.wipe(p[4]);
  } else if (op === OP_CONSOLE && arg === CONSOLE_CONFIRM_U32) {
    // The stack takes new services only without a connection: the console comes up when this link ends.
    if (!uart) uart = 1;
    send(newBytes(0), OP_CONSOLE_OK);
  } else send(encodeError(ERR_BAD_ARGUMENT, op));
}

/**
 * AUTH_WINDOW_MS after connecting, then every WATCH_MS: a peer that has not authenticated by then, or a session
 * idle for WATCH_S, is disconnected (a silent peer would otherwise hold the band's only connection and its energy).
 */
function watch(): void {
  if (!connected) return;
  watcher = timers.after(watch, WATCH_MS);
  // With the console on, a peer may be a maintainer on the console, which never authenticates here.
  if (uart < 2 && (!ks || p.uptime() - active > WATCH_S)) radio.disconnect();
}

export function connect(): void {
  reset();
  connected = true;
  active = p.uptime();
  timers.cancel(watcher);
  watcher = timers.after(watch, AUTH_WINDOW_MS);
}

/** The link ended. True when the console asked for in it came up (the stack restarted: awake, see Radio.console). */
export function disconnect(): boolean {
  connected = false;
  reset();
  if (uart !== 1) return false;
  uart = 2;
  radio.console();
  return true;
}

/** A write to the control characteristic. */
export function write(d: Uint8Array): void {
  if (dropped) return;
  active = p.uptime();
  const op = d[0];
  if (!key) return drop(ERR_UNPROVISIONED, 0);
  if (op === OP_AUTH_BEGIN) return begin();
  if (op === OP_AUTH_PROVE) return prove(key, d);
  if (!ks) return drop(ERR_AUTH_REQUIRED, 0);
  const f = frameOpen(c, ks, DIR_KIOSK, d);
  // Forged, corrupted or replayed (sequence numbers only grow; a session ends before they would wrap).
  if (!f || f.seq <= rx) return drop(ERR_BAD_MAC, 0);
  // Every queue is bounded: a peer that sends commands faster than the band can answer loses the link.
  if (q.length > MAX_QUEUE) return drop(ERR_BUSY, q.length);
  rx = f.seq;
  command(f.op, f.payload);
}

/**
 * Largest frame the band sends for an MTU (for the response characteristic's maxLen): a DATA chunk or the
 * status reply, whichever is longer (the other replies are shorter).
 */
export function maxFrameBytes(mtu: number): number {
  const data = 4 + unitsPerChunk(mtu) * RECORD_SIZE;
  return FRAME_OVERHEAD + (data > STATUS_BYTES ? data : STATUS_BYTES);
}

import { floor, newBytes, readU16LE, readU32LE, writeU16LE, writeU32LE } from "../protocol/bytes";
import { CryptoPrims } from "../protocol/crypto";
import { FLASHER_CLOCK_WINDOW_S } from "../protocol/provisioning";
import { Platform } from "../hw/types";
import * as keys from "../keys/tek-store";
import { driftAfterSet, unixAt } from "../time/clock";
import { faults } from "../faults";
import { J_FAULTS, J_STATE, J_TEK, RESET_MIN_GAP_S } from "../tuning";
import * as journal from "./journal";
import { encodeSlot } from "./journal";

/**
 * The band's persistent state: power-on epoch, clock, sync cursor (one journal entry, the latest wins) and TEKs
 * (keys/tek-store.ts). A module-level singleton: `boot` (re)loads it.
 *
 * State entry: a = sync cursor, b = power-on epoch (mod 256); data = uptime at boot u32 | clock base (Unix
 * seconds, 0: never set) u32 | uptime at the clock set u32 | drift ppm s16 | epoch of the clock set u8.
 */
let p: Platform;
let retention = 21;
/** Power-on epoch: increments at every boot that follows a power loss. */
let epoch = 1;
let cursor = 0;
let bootAt = 0;
let valid = false;
let base = 0;
let at = 0;
let drift = 0;
let clockEpoch = 0;
/** The latest state and fault entries and the TEK entries are what a journal rewrite keeps. */
let last: Uint8Array | undefined;
let lastFaults: Uint8Array | undefined;

/** Unix seconds now, or -1 without valid time. */
export function now(): number {
  return valid ? unixAt(base, at, drift, p.uptime()) : -1;
}

/** Current day number (UTC days since the epoch), or -1 without valid time. */
export function today(): number {
  const n = now();
  return n < 0 ? -1 : floor(n / 86400);
}

/**
 * Appends a journal entry, rewriting the journal with only live entries when it is full, or when a new day's key
 * comes while the journal holds a key past retention: the rewrite erases the old file and compacts Storage
 * (journal.rewrite), so no key outlives retention in flash by more than the new day's first rotation.
 */
function persist(slot: Uint8Array): void {
  const t = today();
  const prune = slot[0] === J_TEK && t >= 0 && keys.expired(t, retention);
  if (!prune && journal.append(slot)) return;
  const live = keys.slots(t, retention);
  if (last && last !== slot) live.push(last);
  if (lastFaults && lastFaults !== slot) live.push(lastFaults);
  live.push(slot);
  // A failed rewrite leaves the old journal active: the day's key goes there rather than nowhere.
  if (!journal.rewrite(live) && prune) journal.append(slot);
}

function save(): void {
  const d = newBytes(16);
  writeU32LE(d, 0, bootAt);
  writeU32LE(d, 4, valid ? floor(base) : 0);
  writeU32LE(d, 8, at);
  writeU16LE(d, 12, drift);
  d[14] = clockEpoch;
  last = encodeSlot(J_STATE, cursor, epoch & 255, d);
  persist(last);
}

/**
 * Keeps the fault counters (faults.ts) in the journal when they changed since they were last kept: band.ts calls
 * it once per scan window, so a fault storm costs at most one entry per window, and a reset loses at most the
 * faults of the window it interrupted.
 */
export function saveFaults(): void {
  const f = lastFaults;
  if (f && readU32LE(f, 2) === faults[0] && f[1] === (faults[1] & 255) && readU16LE(f, 6) === faults[2]) return;
  const d = newBytes(16);
  writeU16LE(d, 0, faults[2]);
  lastFaults = encodeSlot(J_FAULTS, faults[0], faults[1], d);
  persist(lastFaults);
}

/** An authenticated clock set; returns the error before the set (band - true, seconds) or null. */
export function setTime(unix: number): number | null {
  const t = p.uptime();
  const err = valid ? now() - unix : null;
  if (valid) drift = driftAfterSet(now(), unix, base, drift);
  // Whole seconds of uptime in flash; the fraction goes into the base so a reload gives the same time.
  at = t | 0; // uptime: far below 2^31 s
  base = unix - (t - at) * (1 - drift / 1e6);
  valid = true;
  clockEpoch = epoch & 255;
  save();
  return err;
}

/**
 * Replays the journal, decides whether this boot follows a reset or a power loss, records the boot.
 * `escrowSecret` set: escrow mode. `flasherClockAt`: the provisioning time when the flasher also set the clock
 * over USB (provisioning flags bit 0), else 0.
 */
export function boot(
  platform: Platform,
  c: CryptoPrims,
  escrowSecret: Uint8Array | undefined,
  retentionDays: number,
  flasherClockAt: number,
): void {
  p = platform;
  retention = retentionDays;
  last = lastFaults = undefined;
  keys.init(c, escrowSecret, persist, p.rand32);
  journal.load(p.flash, (type, _a, _b, s) => {
    if (type === J_STATE) last = s;
    if (type === J_FAULTS) lastFaults = s;
  });
  const f = lastFaults;
  faults[0] = f ? readU32LE(f, 2) : 0;
  faults[1] = f ? f[1] : 0;
  faults[2] = f ? readU16LE(f, 6) : 0;
  const t = p.uptime();
  const s = last;
  epoch = 1;
  cursor = drift = base = at = clockEpoch = 0;
  if (s) {
    // A reset keeps the uptime counter running; a power loss restarts it.
    epoch = t >= readU32LE(s, 6) + RESET_MIN_GAP_S ? s[1] : s[1] + 1;
    // A reset (watchdog, E.reboot) keeps the uptime counter running: count it.
    if (epoch === s[1] && faults[2] < 65535) faults[2]++;
    cursor = readU32LE(s, 2);
    base = readU32LE(s, 10);
    at = readU32LE(s, 14);
    drift = (readU16LE(s, 18) << 16) >> 16;
    clockEpoch = s[20];
  }
  valid = base > 0 && clockEpoch === (epoch & 255) && t >= at;
  bootAt = t | 0;
  // The flasher may have set the clock over USB just before the first boot.
  if (!valid && flasherClockAt && t >= flasherClockAt && t <= flasherClockAt + FLASHER_CLOCK_WINDOW_S) setTime(bootAt);
  else save();
  saveFaults();
}

/** Moves the sync cursor forward (never back). */
export function setCursor(c: number): void {
  if (c <= cursor) return;
  cursor = c;
  save();
}

export function syncCursor(): number {
  return cursor;
}

export function powerOnEpoch(): number {
  return epoch;
}

export function driftPpm(): number {
  return drift;
}

/**
 * Journal slots of the TEKs in retention, oldest first (for READ_TEKS); none without valid time, when the band
 * cannot tell which keys are in retention (a kiosk sets the clock first: docs/protocol.md section 7.3).
 */
export function tekSlots(): Uint8Array[] {
  const t = today();
  return t < 0 ? [] : keys.slots(t, retention);
}

/**
 * Erases TEKs, clock and cursor: end of deployment. The journal files are only marked deleted: the caller
 * compacts Storage once everything it wipes is erased (band.ts wipe).
 */
export function wipe(): void {
  journal.clear();
  valid = false;
  cursor = 0;
  last = lastFaults = undefined;
}

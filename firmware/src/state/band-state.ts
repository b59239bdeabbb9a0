import { readU32LE, writeU32LE } from "../protocol/bytes";
import { CryptoPrims } from "../protocol/crypto";
import { FLASHER_CLOCK_WINDOW_S, PROV_FLAG_CLOCK_SET_BY_FLASHER, Provisioning } from "../protocol/provisioning";
import { Platform } from "../hw/types";
import { createTekStore, TekStore } from "../keys/tek-store";
import { driftAfterSet, unixAt } from "../time/clock";
import { createJournal, encodeSlot, J_BOOT, J_CLOCK, J_CURSOR } from "./journal";

/** A boot this many seconds (or more) past the previous boot's uptime is a reset; anything less, a power loss. */
const RESET_MIN_GAP_S = 2;

export const CLOCK_SOURCE_KIOSK = 0;
export const CLOCK_SOURCE_FLASHER = 1;

/** The band's persistent state: power-on epoch, clock, sync cursor and TEKs, kept in the journal. */
export interface BandState {
  keys: TekStore;
  /** Replays the journal, decides whether this boot follows a reset or a power loss, records the boot. */
  boot(): void;
  /** Unix seconds now, or -1 without valid time. */
  now(): number;
  /** Current day number (UTC days since the epoch), or -1 without valid time. */
  today(): number;
  /** An authenticated clock set; returns the error before the set (band - true, seconds) or null. */
  setTime(unix: number, source: number): number | null;
  /** Moves the sync cursor forward (never back). */
  setCursor(cursor: number): void;
  cursor(): number;
  /** Power-on epoch: increments at every boot that follows a power loss. */
  epoch(): number;
  drift(): number;
  /** Erases TEKs, clock and cursor: end of deployment. */
  wipe(): void;
}

export function createBandState(p: Platform, c: CryptoPrims, prov: Provisioning): BandState {
  const journal = createJournal(p.flash);
  let epoch = 1;
  let cursor = 0;
  let valid = false;
  let base = 0;
  let at = 0;
  let drift = 0;
  let lastClock: Uint8Array | undefined;
  let lastBoot: Uint8Array | undefined;
  let lastCursor: Uint8Array | undefined;

  function now(): number {
    return valid ? unixAt(base, at, drift, p.uptime()) : -1;
  }

  function today(): number {
    const n = now();
    return n < 0 ? -1 : Math.floor(n / 86400);
  }

  /** Appends a journal entry, rewriting the journal with only live entries when it is full. */
  function persist(slot: Uint8Array): void {
    if (journal.append(slot)) return;
    const live = keys.liveSlots(today(), prov.retentionDays);
    if (lastClock && lastClock !== slot) live.push(lastClock);
    if (lastCursor && lastCursor !== slot) live.push(lastCursor);
    if (lastBoot && lastBoot !== slot) live.push(lastBoot);
    live.push(slot);
    journal.rewrite(live);
  }

  const keys = createTekStore(c, prov.mode === "escrow" ? prov.bandSecret : undefined, journal, persist, p.rand32);

  function setTime(unix: number, source: number): number | null {
    const t = p.uptime();
    const err = valid ? now() - unix : null;
    if (valid) drift = driftAfterSet(now(), unix, base, drift);
    // Whole seconds of uptime in flash; the fraction goes into the base so a reload gives the same time.
    at = Math.floor(t);
    base = unix - (t - at) * (1 - drift / 1e6);
    valid = true;
    const d = new Uint8Array(9);
    writeU32LE(d, 0, at);
    writeU32LE(d, 4, drift);
    d[8] = epoch & 255;
    lastClock = encodeSlot(J_CLOCK, Math.floor(base), source, d);
    persist(lastClock);
    return err;
  }

  return {
    keys: keys,
    boot() {
      journal.load((type, a, _b, s) => {
        if (type === J_BOOT) lastBoot = s;
        else if (type === J_CLOCK) lastClock = s;
        else if (type === J_CURSOR) {
          lastCursor = s;
          cursor = a;
        }
      });
      const t = p.uptime();
      if (lastBoot) {
        const prev = readU32LE(lastBoot, 2);
        epoch = t >= readU32LE(lastBoot, 6) + RESET_MIN_GAP_S ? prev : prev + 1;
      }
      const lc = lastClock;
      if (lc && lc[14] === (epoch & 255) && t >= readU32LE(lc, 6)) {
        valid = true;
        base = readU32LE(lc, 2);
        at = readU32LE(lc, 6);
        drift = readU32LE(lc, 10) | 0;
      }
      if (
        !valid &&
        prov.flags & PROV_FLAG_CLOCK_SET_BY_FLASHER &&
        t >= prov.provisionedAt &&
        t <= prov.provisionedAt + FLASHER_CLOCK_WINDOW_S
      ) {
        setTime(Math.floor(t), CLOCK_SOURCE_FLASHER);
      }
      const d = new Uint8Array(4);
      writeU32LE(d, 0, Math.floor(t));
      lastBoot = encodeSlot(J_BOOT, epoch, 0, d);
      persist(lastBoot);
    },
    now: now,
    today: today,
    setTime: setTime,
    setCursor(c) {
      if (c <= cursor) return;
      cursor = c;
      lastCursor = encodeSlot(J_CURSOR, c, 0, undefined);
      persist(lastCursor);
    },
    cursor() {
      return cursor;
    },
    epoch() {
      return epoch;
    },
    drift() {
      return drift;
    },
    wipe() {
      journal.clear();
      valid = false;
      cursor = 0;
      lastClock = lastCursor = lastBoot = undefined;
      keys.reset();
    },
  };
}

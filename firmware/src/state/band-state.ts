import { readU32LE, writeU32LE } from "../protocol/bytes";
import { CryptoPrims } from "../protocol/crypto";
import { FLASHER_CLOCK_WINDOW_S, PROV_FLAG_CLOCK_SET_BY_FLASHER, Provisioning } from "../protocol/provisioning";
import { Platform } from "../hw/types";
import { TekStore } from "../keys/tek-store";
import { BandClock } from "../time/clock";
import { encodeSlot, J_BOOT, J_CLOCK, J_CURSOR, Journal } from "./journal";

/** A boot this many seconds (or more) past the previous boot's uptime is a reset; anything less, a power loss. */
const RESET_MIN_GAP_S = 2;

export const CLOCK_SOURCE_KIOSK = 0;
export const CLOCK_SOURCE_FLASHER = 1;

/**
 * The band's persistent state: power-on epoch, clock, sync cursor and TEKs, kept in the journal.
 */
export class BandState {
  journal: Journal;
  clock = new BandClock();
  keys: TekStore;
  /** Power-on epoch: increments at every boot that follows a power loss. */
  epoch = 1;
  cursor = 0;
  retentionDays: number;
  lastClock: Uint8Array | undefined;
  lastBoot: Uint8Array | undefined;
  lastCursor: Uint8Array | undefined;

  constructor(
    public p: Platform,
    c: CryptoPrims,
    public prov: Provisioning,
  ) {
    this.journal = new Journal(p.flash);
    this.retentionDays = prov.retentionDays;
    this.keys = new TekStore(
      c,
      prov.mode === "escrow" ? prov.bandSecret : undefined,
      this.journal,
      (slot) => this.persist(slot),
      p.rand32,
    );
  }

  /** Replays the journal, decides whether this boot follows a reset or a power loss, records the boot. */
  boot(): void {
    this.journal.load((type, a, _b, s) => {
      if (type === J_BOOT) this.lastBoot = s;
      else if (type === J_CLOCK) this.lastClock = s;
      else if (type === J_CURSOR) {
        this.lastCursor = s;
        this.cursor = a;
      }
    });
    const t = this.p.uptime();
    const lb = this.lastBoot;
    if (lb) {
      const prevEpoch = readU32LE(lb, 2);
      this.epoch = t >= readU32LE(lb, 6) + RESET_MIN_GAP_S ? prevEpoch : prevEpoch + 1;
    }
    const lc = this.lastClock;
    if (lc && lc[14] === (this.epoch & 255) && t >= readU32LE(lc, 6)) {
      this.clock.valid = true;
      this.clock.base = readU32LE(lc, 2);
      this.clock.at = readU32LE(lc, 6);
      this.clock.drift = readU32LE(lc, 10) | 0;
    }
    const pr = this.prov;
    if (
      !this.clock.valid &&
      pr.flags & PROV_FLAG_CLOCK_SET_BY_FLASHER &&
      t >= pr.provisionedAt &&
      t <= pr.provisionedAt + FLASHER_CLOCK_WINDOW_S
    ) {
      this.setTime(Math.floor(t), CLOCK_SOURCE_FLASHER);
    }
    const d = new Uint8Array(4);
    writeU32LE(d, 0, Math.floor(t));
    this.lastBoot = encodeSlot(J_BOOT, this.epoch, 0, d);
    this.persist(this.lastBoot);
  }

  /** Unix seconds now, or -1 without valid time. */
  now(): number {
    return this.clock.unix(this.p.uptime());
  }

  /** Current day number (UTC days since the epoch), or -1 without valid time. */
  today(): number {
    const n = this.now();
    return n < 0 ? -1 : Math.floor(n / 86400);
  }

  /** An authenticated clock set; returns the error before the set (band - true) or null. */
  setTime(unix: number, source: number): number | null {
    const t = this.p.uptime();
    const err = this.clock.set(unix, t);
    // Store whole seconds of uptime and keep the fraction in the base, so a reload gives the same Unix time.
    const at = Math.floor(t);
    this.clock.base = unix - (t - at) * (1 - this.clock.drift / 1e6);
    this.clock.at = at;
    const d = new Uint8Array(9);
    writeU32LE(d, 0, at);
    writeU32LE(d, 4, this.clock.drift);
    d[8] = this.epoch & 255;
    this.lastClock = encodeSlot(J_CLOCK, Math.floor(this.clock.base), source, d);
    this.persist(this.lastClock);
    return err;
  }

  /** Moves the sync cursor forward (never back). */
  setCursor(c: number): void {
    if (c <= this.cursor) return;
    this.cursor = c;
    this.lastCursor = encodeSlot(J_CURSOR, c, 0, undefined);
    this.persist(this.lastCursor);
  }

  /** Appends a journal entry, rewriting the journal with only live entries when it is full. */
  persist(slot: Uint8Array): void {
    if (this.journal.append(slot)) return;
    const live = this.keys.liveSlots(this.today(), this.retentionDays);
    if (this.lastClock && this.lastClock !== slot) live.push(this.lastClock);
    if (this.lastCursor && this.lastCursor !== slot) live.push(this.lastCursor);
    if (this.lastBoot && this.lastBoot !== slot) live.push(this.lastBoot);
    live.push(slot);
    this.journal.rewrite(live);
  }

  /** Erases TEKs, clock, cursor: end of deployment. */
  wipe(): void {
    this.journal.clear();
    this.clock.valid = false;
    this.cursor = 0;
    this.lastClock = this.lastCursor = this.lastBoot = undefined;
    this.keys.day = -1;
  }
}

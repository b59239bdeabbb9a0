import { copyBytes, writeU32LE } from "../protocol/bytes";
import { CryptoPrims } from "../protocol/crypto";
import { escrowTek } from "../protocol/escrow";
import { deriveAemk, deriveRpik, EN_TEK_ROLLING_PERIOD } from "../protocol/gaen";
import { TekEntry } from "../protocol/sync";
import { CAPACITY, encodeSlot, J_TEK, Journal } from "../state/journal";

/**
 * Daily Temporary Exposure Keys. `private` mode: 16 bytes of hardware randomness the first time a day's key is
 * needed, kept in the journal (so a reset the same day keeps advertising the same key's RPIs) for the retention
 * period. `escrow` mode: derived from the band secret (protocol/escrow.ts), nothing stored.
 * The current day's keys are cached: derivation costs HKDF and happens once a day.
 */
export interface TekStore {
  /** [TEK, RPIK, AEMK] of `day` (days since the epoch, UTC). */
  keysFor(day: number): Uint8Array[];
  /** TEKs in retention, newest first; `today` < 0 (no valid time): every stored key (private), none (escrow). */
  list(today: number, retentionDays: number): TekEntry[];
  /** Journal slots to keep when the journal is rewritten. */
  liveSlots(today: number, retentionDays: number): Uint8Array[];
  /** Forgets the cached day (after a wipe). */
  reset(): void;
}

export function createTekStore(
  c: CryptoPrims,
  escrowSecret: Uint8Array | undefined,
  journal: Journal,
  persist: (slot: Uint8Array) => void,
  rand32: () => number,
): TekStore {
  let day = -1;
  let keys: Uint8Array[] = [];

  function tekFor(d: number): Uint8Array {
    if (escrowSecret) return escrowTek(c, escrowSecret, d);
    const rsn = d * EN_TEK_ROLLING_PERIOD;
    let found: Uint8Array | undefined;
    journal.each((type, a, _b, s) => {
      if (type === J_TEK && a === rsn) found = copyBytes(s, 6, 16);
    });
    if (found) return found;
    const tek = new Uint8Array(16);
    for (let i = 0; i < 16; i += 4) writeU32LE(tek, i, rand32());
    persist(encodeSlot(J_TEK, rsn, EN_TEK_ROLLING_PERIOD, tek));
    return tek;
  }

  function list(today: number, retentionDays: number): TekEntry[] {
    const out: TekEntry[] = [];
    const oldest = (today - retentionDays + 1) * EN_TEK_ROLLING_PERIOD;
    if (escrowSecret) {
      for (let d = today; today >= 0 && d > today - retentionDays; d--) {
        out.push({
          rollingStartNumber: d * EN_TEK_ROLLING_PERIOD,
          rollingPeriod: EN_TEK_ROLLING_PERIOD,
          tek: tekFor(d),
        });
      }
      return out;
    }
    journal.each((type, a, b, s) => {
      if (type === J_TEK && (today < 0 || a >= oldest)) {
        out.unshift({ rollingStartNumber: a, rollingPeriod: b, tek: copyBytes(s, 6, 16) });
      }
    });
    return out;
  }

  return {
    keysFor(d) {
      if (d !== day) {
        const tek = tekFor(d);
        keys = [tek, deriveRpik(c, tek), deriveAemk(c, tek)];
        day = d;
      }
      return keys;
    },
    list: list,
    liveSlots(today, retentionDays) {
      const out: Uint8Array[] = [];
      if (escrowSecret) return out;
      const keep = list(today, retentionDays);
      // Newest keys first if they do not all fit; the journal also keeps clock, cursor and boot entries.
      for (let i = (keep.length < CAPACITY - 4 ? keep.length : CAPACITY - 4) - 1; i >= 0; i--) {
        out.push(encodeSlot(J_TEK, keep[i].rollingStartNumber, keep[i].rollingPeriod, keep[i].tek));
      }
      return out;
    },
    reset() {
      day = -1;
    },
  };
}

import { newBytes, writeU32LE } from "../protocol/bytes";
import { CryptoPrims } from "../protocol/crypto";
import { escrowTek } from "../protocol/escrow";
import { deriveAemk, deriveRpik, EN_TEK_ROLLING_PERIOD } from "../protocol/gaen";
import * as journal from "../state/journal";
import { encodeSlot } from "../state/journal";
import { CAPACITY, J_TEK } from "../tuning";

/**
 * Daily Temporary Exposure Keys. `private` mode: 16 bytes of hardware randomness the first time a day's key is
 * needed, kept in the journal (so a reset the same day keeps advertising the same key's RPIs) for the retention
 * period. `escrow` mode: derived from the band secret (protocol/escrow.ts), and kept the same way.
 * The current day's keys are cached: derivation costs HKDF and happens once a day. A module-level singleton.
 */
let c: CryptoPrims;
let escrowSecret: Uint8Array | undefined;
let persist: (slot: Uint8Array) => void;
let rand32: () => number;
let day = -1;
let keys: Uint8Array[] = [];

/** `secret` set: escrow mode. `store` appends a journal slot (the band state owns the journal). */
export function init(
  crypto: CryptoPrims,
  secret: Uint8Array | undefined,
  store: (slot: Uint8Array) => void,
  rand: () => number,
): void {
  c = crypto;
  escrowSecret = secret;
  persist = store;
  rand32 = rand;
  day = -1;
}

function tekFor(d: number): Uint8Array {
  const rsn = d * EN_TEK_ROLLING_PERIOD;
  let found: Uint8Array | undefined;
  journal.each((type, a, _b, s) => {
    if (type === J_TEK && a === rsn) found = s.subarray(6, 22);
  });
  if (found) return found;
  let tek = newBytes(16);
  if (escrowSecret) tek = escrowTek(c, escrowSecret, d);
  else for (let i = 0; i < 16; i += 4) writeU32LE(tek, i, rand32());
  // Escrow keys could be derived again, but keeping every mode's keys in the journal keeps one code path.
  persist(encodeSlot(J_TEK, rsn, EN_TEK_ROLLING_PERIOD, tek));
  return tek;
}

/** [TEK, RPIK, AEMK] of `d` (days since the epoch, UTC). */
export function keysFor(d: number): Uint8Array[] {
  if (d !== day) {
    const tek = tekFor(d);
    keys = [tek, deriveRpik(c, tek), deriveAemk(c, tek)];
    day = d;
  }
  return keys;
}

/**
 * The journal slots of the TEKs used in the retention period, oldest first: at most CAPACITY - 2 newest, so that a
 * rewritten journal also holds the state entry. Without valid time (`today` < 0) the band cannot date them: the
 * `retentionDays` newest (keys are one a day and time only moves forward, so any older key is past retention
 * whatever today is). A TEK slot is: type | rolling period | rolling start number u32 | TEK 16 (the TEK frame
 * payload's layout).
 */
export function slots(today: number, retentionDays: number): Uint8Array[] {
  let out: Uint8Array[] = [];
  const oldest = (today - retentionDays + 1) * EN_TEK_ROLLING_PERIOD;
  journal.each((type, a, _b, s) => {
    if (type === J_TEK && (today < 0 || a >= oldest)) out.push(s);
  });
  if (today < 0 && out.length > retentionDays) out = out.slice(out.length - retentionDays);
  return out.length > CAPACITY - 2 ? out.slice(out.length - CAPACITY + 2) : out;
}

/** True when the journal holds a TEK older than the retention period (`today` >= 0). */
export function expired(today: number, retentionDays: number): boolean {
  let old = false;
  const oldest = (today - retentionDays + 1) * EN_TEK_ROLLING_PERIOD;
  journal.each((type, a) => {
    if (type === J_TEK && a < oldest) old = true;
  });
  return old;
}

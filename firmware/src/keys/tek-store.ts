import { copyBytes } from "../protocol/bytes";
import { CryptoPrims } from "../protocol/crypto";
import { escrowTek } from "../protocol/escrow";
import { deriveAemk, deriveRpik, EN_TEK_ROLLING_PERIOD } from "../protocol/gaen";
import { TekEntry } from "../protocol/sync";
import { CAPACITY, encodeSlot, J_TEK, Journal } from "../state/journal";

/**
 * Daily Temporary Exposure Keys. `private` mode: 16 bytes of hardware randomness the first time a day's key is
 * needed, kept in the journal (so a reset the same day keeps advertising the same key's RPIs) for the retention
 * period. `escrow` mode: derived from the band secret (protocol/escrow.ts), nothing stored.
 * The keys for the current day (TEK, RPIK, AEMK) are cached: derivation costs HKDF and happens once a day.
 */
export class TekStore {
  day = -1;
  tek: Uint8Array = new Uint8Array(16);
  rpik: Uint8Array = new Uint8Array(16);
  aemk: Uint8Array = new Uint8Array(16);

  constructor(
    public c: CryptoPrims,
    public escrowSecret: Uint8Array | undefined,
    public journal: Journal,
    public persist: (slot: Uint8Array) => void,
    public rand32: () => number,
  ) {}

  /** Makes `day` (days since the epoch, UTC) the current day: its TEK and derived keys. */
  use(day: number): void {
    if (day === this.day) return;
    this.tek = this.tekFor(day);
    this.rpik = deriveRpik(this.c, this.tek);
    this.aemk = deriveAemk(this.c, this.tek);
    this.day = day;
  }

  tekFor(day: number): Uint8Array {
    if (this.escrowSecret) return escrowTek(this.c, this.escrowSecret, day);
    const rsn = day * EN_TEK_ROLLING_PERIOD;
    let found: Uint8Array | undefined;
    this.journal.each(function (type, a, _b, s) {
      if (type === J_TEK && a === rsn) found = copyBytes(s, 6, 16);
    });
    if (found) return found;
    const tek = new Uint8Array(16);
    for (let i = 0; i < 16; i += 4) {
      const r = this.rand32();
      tek[i] = r & 255;
      tek[i + 1] = (r >>> 8) & 255;
      tek[i + 2] = (r >>> 16) & 255;
      tek[i + 3] = (r >>> 24) & 255;
    }
    this.persist(encodeSlot(J_TEK, rsn, EN_TEK_ROLLING_PERIOD, tek));
    return tek;
  }

  /**
   * TEKs still in retention, newest first. `today` < 0 (no valid time) lists every stored key in private mode
   * and none in escrow mode (which keys to derive depends on the date).
   */
  list(today: number, retentionDays: number): TekEntry[] {
    const out: TekEntry[] = [];
    const oldest = (today - retentionDays + 1) * EN_TEK_ROLLING_PERIOD;
    if (this.escrowSecret) {
      for (let d = today; today >= 0 && d > today - retentionDays; d--) {
        out.push({
          rollingStartNumber: d * EN_TEK_ROLLING_PERIOD,
          rollingPeriod: EN_TEK_ROLLING_PERIOD,
          tek: this.tekFor(d),
        });
      }
      return out;
    }
    this.journal.each(function (type, a, b, s) {
      if (type === J_TEK && (today < 0 || a >= oldest)) {
        out.unshift({ rollingStartNumber: a, rollingPeriod: b, tek: copyBytes(s, 6, 16) });
      }
    });
    return out;
  }

  /** The journal slots to keep when the journal is rewritten. */
  liveSlots(today: number, retentionDays: number): Uint8Array[] {
    const keep = this.list(today, retentionDays);
    const out: Uint8Array[] = [];
    // Newest keys first if they do not all fit; the journal also keeps clock, cursor and boot entries.
    const n = keep.length < CAPACITY - 4 ? keep.length : CAPACITY - 4;
    for (let i = n - 1; i >= 0 && !this.escrowSecret; i--) {
      out.push(encodeSlot(J_TEK, keep[i].rollingStartNumber, keep[i].rollingPeriod, keep[i].tek));
    }
    return out;
  }
}

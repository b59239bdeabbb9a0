import { pureCrypto } from "../../../../firmware/src/protocol/crypto";
import { computeAem, deriveAemk } from "../../../../firmware/src/protocol/gaen";
import { LogExport, TX_PLAUSIBLE_MAX_DBM, TX_PLAUSIBLE_MIN_DBM } from "../../../../firmware/src/protocol/record";
import { EscrowBandRow } from "../store/store";
import { buildDayIndexes } from "./day-index";
import { EscrowRpiEngine } from "./escrow-rpis";
import { placeSightings, Sighting } from "./sightings";

/**
 * F1 resolution: which registered escrow bands does a positive band's log contain?
 *
 * For every registered band (paged from the store, secrets unsealed one at a time) and every day the log
 * touches, derive the band's TEK for that day, the RPIs of the intervals that day's sightings could match
 * (the intervals rotation allows, sightings.ts, +-tolerance for clock disagreement), and look each up in the day's prefix index. A hit is kept when the RPI's interval is within
 * the tolerance of the sighting; the tx power is then decrypted from the logged AEM byte with the pure
 * protocol code (hits are rare, so speed does not matter there).
 *
 * Cost: bands x days x needed intervals AES blocks plus 8 SHA-256 compressions per band-day, linear in the
 * number of registered bands. The loop yields to the event loop every `sliceMs` so a server stays responsive.
 */
export interface ResolveInput {
  f0BandId: string;
  log: LogExport;
  now: number;
  tolerance: number;
  maxAgeDays: number;
  bands: (afterRowId: number, limit: number) => Promise<EscrowBandRow[]>;
  unseal: (row: EscrowBandRow) => Uint8Array | undefined;
  sliceMs?: number;
  pageSize?: number;
  /** Resolve this TEK day of the log only (one F1 job, f1/jobs.ts); all days the log touches when absent. */
  onlyDay?: number;
}

export interface ResolvedMatch {
  f1BandId: string;
  sighting: Sighting;
  /** The interval of the matching RPI. */
  enin: number;
  /** Decrypted tx power (int8 dBm), or null when the decrypted value is implausible. */
  txPower: number | null;
}

export interface ResolveStats {
  sightings: number;
  skippedMonotonic: number;
  skippedBluezone: number;
  skippedOutOfRange: number;
  /** Records claiming one RPI for longer than it can be on air (span capped). */
  cappedSpans: number;
  days: number;
  bandsScanned: number;
  bandDays: number;
  rpisComputed: number;
  unsealFailures: number;
  /** Prefix and time matched, but the AEM decrypted to an implausible tx power: not a match. */
  aemRejected: number;
  matches: number;
  ms: number;
}

/** The log's own counts (taken once per log) with every per-key count still zero. */
export function logStats(
  log: Pick<ResolveStats, "sightings" | "skippedMonotonic" | "skippedBluezone" | "skippedOutOfRange" | "cappedSpans">,
  days: number,
): ResolveStats {
  const { sightings, skippedMonotonic, skippedBluezone, skippedOutOfRange, cappedSpans } = log;
  return {
    sightings,
    skippedMonotonic,
    skippedBluezone,
    skippedOutOfRange,
    cappedSpans,
    days,
    bandsScanned: 0,
    bandDays: 0,
    rpisComputed: 0,
    unsealFailures: 0,
    aemRejected: 0,
    matches: 0,
    ms: 0,
  };
}

export async function resolveLog(input: ResolveInput): Promise<{ matches: ResolvedMatch[]; stats: ResolveStats }> {
  const t0 = Date.now();
  const placed = placeSightings(input.log, input.now, input.maxAgeDays);
  const allDays = buildDayIndexes(placed.sightings, input.tolerance);
  const days = input.onlyDay === undefined ? allDays : allDays.filter((d) => d.day === input.onlyDay);
  const stats = logStats(
    {
      sightings: placed.sightings.length,
      skippedMonotonic: placed.skipped.monotonic,
      skippedBluezone: placed.skipped.bluezone,
      skippedOutOfRange: placed.skipped.outOfRange,
      cappedSpans: placed.cappedSpans,
    },
    days.length,
  );
  const raw: { f1BandId: string; sighting: Sighting; enin: number; tek: Buffer; rpi: Buffer }[] = [];
  if (days.length > 0) {
    const engine = new EscrowRpiEngine();
    const sliceMs = input.sliceMs ?? 50;
    const pageSize = input.pageSize ?? 2000;
    let sliceStart = Date.now();
    let after = 0;
    for (;;) {
      const page = await input.bands(after, pageSize);
      if (page.length === 0) break;
      after = page[page.length - 1].rowId;
      for (const band of page) {
        if (band.bandId === input.f0BandId) continue;
        const secret = input.unseal(band);
        if (!secret) {
          stats.unsealFailures++;
          continue;
        }
        stats.bandsScanned++;
        engine.setBand(secret);
        for (const d of days) {
          engine.deriveDay(d.day);
          const rpis = engine.rpis(d.padded);
          const n = d.enins.length;
          const filter = d.filter;
          for (let j = 0, o = 0; j < n; j++, o += 16) {
            const bit = (rpis[o] << 8) | rpis[o + 1];
            if ((filter[bit >>> 5] & (1 << (bit & 31))) === 0) continue;
            const hi = ((rpis[o] << 24) | (rpis[o + 1] << 16) | (rpis[o + 2] << 8) | rpis[o + 3]) >>> 0;
            const lo = rpis[o + 4]; // the rest of the 5-byte prefix (sightings.ts)
            const list = d.byHi.get(hi);
            if (!list) continue;
            const enin = d.enins[j];
            for (const s of list) {
              if (s.lo !== lo || enin < s.rpiFirst - input.tolerance || enin > s.rpiLast + input.tolerance) continue;
              raw.push({
                f1BandId: band.bandId,
                sighting: s,
                enin,
                tek: Buffer.from(engine.tek),
                rpi: Buffer.from(rpis.subarray(o, o + 16)),
              });
            }
          }
          stats.bandDays++;
          stats.rpisComputed += n;
        }
        if (Date.now() - sliceStart >= sliceMs) {
          await new Promise<void>((r) => setImmediate(r));
          sliceStart = Date.now();
        }
      }
    }
  }
  // The AEM check (the kiosk matcher's rule, kiosk/exposure/match.ts): the tx power must decrypt to a plausible value.
  const matches: ResolvedMatch[] = [];
  for (const m of raw) {
    const aemk = deriveAemk(pureCrypto, m.tek);
    const meta = computeAem(pureCrypto, aemk, m.rpi, new Uint8Array([0, m.sighting.record.aemTx, 0, 0]));
    const tx = meta[1] > 127 ? meta[1] - 256 : meta[1];
    if (tx < TX_PLAUSIBLE_MIN_DBM || tx > TX_PLAUSIBLE_MAX_DBM) {
      stats.aemRejected++;
      continue;
    }
    matches.push({ f1BandId: m.f1BandId, sighting: m.sighting, enin: m.enin, txPower: tx });
  }
  stats.matches = matches.length;
  stats.ms = Date.now() - t0;
  return { matches, stats };
}

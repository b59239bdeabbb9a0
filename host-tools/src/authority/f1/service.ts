import { decodeLogExportV3, logOfExport } from "../../../../firmware/src/protocol/log-mac";
import { LogExport } from "../../../../firmware/src/protocol/record";
import { AuthorityConfig } from "../config";
import { open } from "../crypto/secret-box";
import { AuthorityStore, EscrowBandRow, F1Sighting } from "../store/store";
import { aggregateContact, groupSightings } from "./exposure";
import { ResolvedMatch, resolveLog, ResolveStats } from "./resolve";

/**
 * Runs F1 resolution for uploaded logs, one at a time, in the background of the server: stores the resolved
 * sightings (deduplicated across overlapping logs of the same positive band) and recomputes the worklist rows
 * they touch, keeping each row's call status.
 */
export interface F1Deps {
  store: AuthorityStore;
  config: AuthorityConfig;
  escrowSealKey: Buffer;
  now: () => number;
  log: (line: string) => void;
}

export interface ResolutionSummary extends ResolveStats {
  newSightings: number;
  contacts: number;
  closeContacts: number;
}

export class F1Resolver {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(private readonly deps: F1Deps) {}

  /** Starts working through pending logs unless already doing so; resolves when the queue is empty. */
  kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          for (;;) {
            const next = await this.deps.store.claimPendingLog(this.deps.now());
            if (!next) break;
            await this.resolveOne(next.id);
          }
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Resolves one stored log now. Failures are recorded on the log (status "failed"), never thrown. */
  async resolveOne(logId: number): Promise<ResolutionSummary | undefined> {
    const { store, config } = this.deps;
    const row = await store.getBandLog(logId);
    const body = await store.getBandLogBody(logId);
    if (!row || !body) return undefined;
    await store.setResolution(logId, "running", this.deps.now(), null);
    try {
      const log = decodeStoredLog(body);
      const now = this.deps.now();
      const key = this.deps.escrowSealKey;
      const { matches, stats } = await resolveLog({
        f0BandId: row.bandId,
        log,
        now,
        tolerance: config.exposure.toleranceIntervals,
        maxAgeDays: config.exposure.maxSightingAgeDays,
        bands: (after, limit) => store.escrowBandPage(after, limit),
        unseal: (b: EscrowBandRow) => open(key, b.secretSealed, Buffer.from(b.bandId, "hex")),
      });
      const sightings = f1SightingsOf(matches, row.bandId, logId);
      const newSightings = await store.saveF1Sightings(sightings);
      const groupKeys = new Map<string, { f1BandId: string; day: number }>();
      for (const s of sightings) groupKeys.set(s.f1BandId + "/" + s.day, { f1BandId: s.f1BandId, day: s.day });
      const all = await store.f1SightingsFor(row.bandId, [...groupKeys.values()]);
      const settings = { ...config.exposure };
      const contacts = groupSightings(all).map((g) => aggregateContact(g, settings, now));
      await store.upsertContacts(contacts);
      const summary: ResolutionSummary = {
        ...stats,
        newSightings,
        contacts: contacts.length,
        closeContacts: contacts.filter((c) => c.closeContact).length,
      };
      await store.setResolution(logId, "done", this.deps.now(), JSON.stringify(summary));
      this.deps.log(
        `authority: F1 resolution of log ${logId}: ${stats.matches} matches, ${contacts.length} contacts, ` +
          `${stats.bandsScanned} bands x ${stats.days} days in ${stats.ms} ms`,
      );
      return summary;
    } catch (e) {
      await store.setResolution(logId, "failed", this.deps.now(), JSON.stringify({ error: (e as Error).message }));
      this.deps.log(`authority: F1 resolution of log ${logId} failed: ${(e as Error).message}`);
      return undefined;
    }
  }
}

/** The sightings a resolution stores: one per match, on the UTC day of its first sighting. */
export function f1SightingsOf(matches: ResolvedMatch[], f0BandId: string, logId: number): F1Sighting[] {
  return matches.map((m) => ({
    f0BandId,
    f1BandId: m.f1BandId,
    rpiPrefix: m.sighting.prefixHex,
    startTime: m.sighting.start,
    durationMinutes: m.sighting.minutes,
    rssiMean: m.sighting.record.rssiMean,
    txPower: m.txPower,
    day: Math.floor(m.sighting.start / 86400),
    logId,
  }));
}

/** A stored log's records. Stored logs were verified at upload (band-logs.ts); here they are only assembled again. */
export function decodeStoredLog(body: Buffer): LogExport {
  const v3 = decodeLogExportV3(body);
  const decoded = v3.ok ? logOfExport(v3.value) : v3;
  if (!decoded.ok) throw new Error("stored log no longer decodes: " + decoded.error);
  return decoded.value.log;
}

import { open } from "../crypto/secret-box";
import { BandLogRow, ContactWrite, EscrowBandRow, F1Job, F1JobPlan, F1LogFinish, F1Sighting } from "../store/store";
import { buildDayIndexes } from "./day-index";
import { aggregateContact, groupSightings } from "./exposure";
import { logStats, resolveLog, ResolveStats } from "./resolve";
import { decodeStoredLog, F1Deps, f1SightingsOf, ResolutionSummary } from "./service";
import { placeSightings } from "./sightings";

/**
 * F1 resolution as jobs, for `tracelet authority worker` processes sharing one database: a worker that finds
 * no open job claims a pending log and plans it into jobs of one TEK day of the log x one range of registered
 * escrow bands (`f1JobBands` of them, by row id), so any number of workers share one log. Each job is the
 * single-process engine (resolve.ts) restricted to its day and its bands; the union of a log's jobs scans
 * every (band, day) pair the engine scans once, so the stored sightings and the contacts are the engine's.
 *
 * A job is held under a lease the worker renews while it works; a job whose lease ran out (its worker was
 * killed) is claimed again by the next worker, and the completion is fenced by the claim's attempt number,
 * so each job is completed once. The worker completing a log's last job recomputes the log's contacts in the
 * same transaction (store.completeF1Job).
 */
export interface F1JobDeps extends F1Deps {
  /** Names this worker on the jobs it holds (host:pid). */
  worker: string;
  leaseS: number;
  /** Registered escrow bands per job. */
  jobBands: number;
}

/** What a job stores as its summary: its engine stats and the (F1 band, day) groups it matched. */
interface JobSummary {
  day: number;
  stats: ResolveStats;
  sightings: number;
  groups: [string, number][];
}

export type JobOutcome = "done" | "log-done" | "lost" | "failed";

export class F1JobRunner {
  /**
   * The escrow secrets of the band range of the last job, by row id: the next job of the same range (another
   * day of the log, or of the next log) does not unseal them again. Dropped when the range changes and when the
   * worker goes idle (forget), so a worker holds at most one range's secrets, and only while it works.
   */
  private unsealed: {
    bandFrom: number;
    bandTo: number | null;
    secrets: Map<number, { sealed: Buffer; secret: Uint8Array | undefined }>;
  } | null = null;

  constructor(private readonly deps: F1JobDeps) {}

  /** The first row id of the band range whose secrets it holds unsealed (claimF1Job prefers its jobs). */
  range(): number | undefined {
    return this.unsealed?.bandFrom;
  }

  /** Drops the unsealed secrets it keeps (the worker calls it when it finds no work). */
  forget(): void {
    this.unsealed = null;
  }

  /**
   * Splits a claimed log (store.claimPendingLog) into jobs. A log with no sighting to resolve is done at once,
   * one that no longer decodes failed. Resolves with the number of jobs made (0 when none were needed or the
   * log was taken over meanwhile).
   */
  async plan(row: BandLogRow): Promise<number> {
    const { store, config } = this.deps;
    const claimedAt = row.resolvedAt!;
    const now = this.deps.now();
    try {
      const body = await store.getBandLogBody(row.id);
      if (!body) return 0;
      const log = decodeStoredLog(body);
      const placed = placeSightings(log, now, config.exposure.maxSightingAgeDays);
      const days = buildDayIndexes(placed.sightings, config.exposure.toleranceIntervals).map((d) => d.day);
      if (days.length === 0) {
        // Nothing to scan: the engine's summary of an empty resolution.
        const { stats } = await resolveLog({
          f0BandId: row.bandId,
          log,
          now,
          tolerance: config.exposure.toleranceIntervals,
          maxAgeDays: config.exposure.maxSightingAgeDays,
          bands: async () => [],
          unseal: () => undefined,
        });
        const summary: ResolutionSummary = { ...stats, newSightings: 0, contacts: 0, closeContacts: 0 };
        await store.setResolution(row.id, "done", now, JSON.stringify(summary));
        return 0;
      }
      const splits = await store.escrowBandSplits(this.deps.jobBands);
      const starts = [0, ...splits];
      // Range by range, day by day: a worker taking the next job mostly stays on its range and reuses the
      // secrets it unsealed for the previous day (F1JobRunner.unsealed).
      const jobs: F1JobPlan[] = [];
      for (let i = 0; i < starts.length; i++)
        for (const day of days)
          jobs.push({ day, bandFrom: starts[i], bandTo: i + 1 < starts.length ? starts[i + 1] : null });
      if (!(await store.planF1Jobs(row.id, claimedAt, now, jobs))) return 0;
      this.deps.log(
        `authority: F1 log ${row.id} planned as ${jobs.length} jobs (${days.length} days x ${starts.length} band ranges)`,
      );
      return jobs.length;
    } catch (e) {
      await store.setResolution(row.id, "failed", this.deps.now(), JSON.stringify({ error: (e as Error).message }));
      this.deps.log(`authority: F1 planning of log ${row.id} failed: ${(e as Error).message}`);
      return 0;
    }
  }

  /** Runs one claimed job (store.claimF1Job) to its completion; failures are recorded, never thrown. */
  async run(job: F1Job): Promise<JobOutcome> {
    const { store, config, leaseS } = this.deps;
    // The lease is renewed while the job runs, so a job longer than the lease is not taken over.
    const renew = setInterval(
      () => void store.renewF1Job(job, this.deps.now() + leaseS).catch(() => undefined),
      Math.max(200, (leaseS * 1000) / 3),
    );
    try {
      const row = await store.getBandLog(job.logId);
      const body = await store.getBandLogBody(job.logId);
      if (!row || !body) throw new Error(`log ${job.logId} is gone`);
      const key = this.deps.escrowSealKey;
      const bandTo = job.bandTo;
      if (this.unsealed?.bandFrom !== job.bandFrom || this.unsealed.bandTo !== bandTo)
        this.unsealed = { bandFrom: job.bandFrom, bandTo, secrets: new Map() };
      const secrets = this.unsealed.secrets;
      const { matches, stats } = await resolveLog({
        f0BandId: row.bandId,
        log: decodeStoredLog(body),
        now: job.plannedAt,
        tolerance: config.exposure.toleranceIntervals,
        maxAgeDays: config.exposure.maxSightingAgeDays,
        onlyDay: job.day,
        bands: async (after, limit) => {
          if (bandTo !== null && after >= bandTo - 1) return [];
          const page = await store.escrowBandPage(Math.max(after, job.bandFrom - 1), limit);
          return bandTo === null ? page : page.filter((b) => b.rowId < bandTo);
        },
        unseal: (b: EscrowBandRow) => {
          // Reused only while the sealed secret is the same bytes (a band registered again has a new one).
          const cached = secrets.get(b.rowId);
          if (cached && cached.sealed.equals(b.secretSealed)) return cached.secret;
          const secret = open(key, b.secretSealed, Buffer.from(b.bandId, "hex"));
          secrets.set(b.rowId, { sealed: b.secretSealed, secret });
          return secret;
        },
      });
      const sightings = f1SightingsOf(matches, row.bandId, job.logId);
      const groups = new Map<string, [string, number]>();
      for (const s of sightings) groups.set(s.f1BandId + "/" + s.day, [s.f1BandId, s.day]);
      const summary: JobSummary = { day: job.day, stats, sightings: sightings.length, groups: [...groups.values()] };
      const r = await store.completeF1Job(job, this.deps.now(), sightings, JSON.stringify(summary), this.finish());
      if (r.status === "lost") {
        this.deps.log(`authority: F1 job ${job.id} was taken over by another worker; its result is dropped`);
        return "lost";
      }
      if (r.logDone) this.deps.log(`authority: F1 resolution of log ${job.logId} done (last job ${job.id})`);
      return r.logDone ? "log-done" : "done";
    } catch (e) {
      const message = (e as Error).message;
      await store.failF1Job(job, this.deps.now(), JSON.stringify({ error: message, job: job.id }));
      this.deps.log(`authority: F1 job ${job.id} of log ${job.logId} failed: ${message}`);
      return "failed";
    } finally {
      clearInterval(renew);
    }
  }

  /** How the last job of a log finishes it: the engine's contact aggregation over all the jobs' groups. */
  private finish(): F1LogFinish {
    const settings = { ...this.deps.config.exposure };
    const now = this.deps.now();
    return {
      groups: (summaries) => {
        const out = new Map<string, { f1BandId: string; day: number }>();
        for (const s of summaries)
          for (const [f1BandId, day] of (JSON.parse(s) as JobSummary).groups)
            out.set(f1BandId + "/" + day, { f1BandId, day });
        return [...out.values()];
      },
      contacts: (all: F1Sighting[]) => groupSightings(all).map((g) => aggregateContact(g, settings, now)),
      summary: (summaries, contacts) => JSON.stringify(mergeJobSummaries(summaries, contacts)),
    };
  }
}

/**
 * A log's resolution summary from its jobs' (the shape the single-process engine records): counts of the
 * log's sightings are the same in every job (taken once), scan counts add up over the jobs (bandsScanned: the
 * bands of one day, as the engine counts them; so unsealFailures), newSightings is the sightings the jobs matched (some may have
 * been stored already by an overlapping log), `ms` is the jobs' summed run time and `jobs` their number.
 */
export function mergeJobSummaries(summaries: string[], contacts: ContactWrite[]): ResolutionSummary & { jobs: number } {
  const jobs = summaries.map((s) => JSON.parse(s) as JobSummary);
  const first = jobs[0].stats;
  const out: ResolutionSummary & { jobs: number } = {
    ...logStats(first, 0),
    newSightings: 0,
    contacts: contacts.length,
    closeContacts: contacts.filter((c) => c.closeContact).length,
    jobs: jobs.length,
  };
  const bandsPerDay = new Map<number, number>();
  const unsealPerDay = new Map<number, number>();
  for (const j of jobs) {
    const s = j.stats;
    out.bandDays += s.bandDays;
    out.rpisComputed += s.rpisComputed;
    unsealPerDay.set(j.day, (unsealPerDay.get(j.day) ?? 0) + s.unsealFailures);
    out.aemRejected += s.aemRejected;
    out.matches += s.matches;
    out.ms += s.ms;
    out.newSightings += j.sightings;
    bandsPerDay.set(j.day, (bandsPerDay.get(j.day) ?? 0) + s.bandsScanned);
  }
  out.days = bandsPerDay.size;
  out.bandsScanned = Math.max(0, ...bandsPerDay.values());
  out.unsealFailures = Math.max(0, ...unsealPerDay.values());
  return out;
}

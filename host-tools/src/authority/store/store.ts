/**
 * The authority's repository interface. Every operation that must be atomic is one method (claiming a code,
 * publishing keys with their certificate, storing a log with its certificate), so a server database can
 * implement it with its own transactions; the embedded SQLite store (sqlite.ts) is the default.
 * Times are Unix seconds. Band ids are 16 lowercase hex digits.
 */

import type { GuardSettings, LockoutTable, RateLimitTable } from "../http/rate-limit";

export type TestType = "confirmed" | "likely" | "negative";

export interface BandRow {
  bandId: string;
  board: string;
  registeredAt: number;
  registeredBy: string;
  /** AES-256-GCM sealed escrow secret (escrow deployments only), bound to the band id. */
  secretSealed: Buffer | null;
  /**
   * AES-256-GCM sealed sync key (the key kiosks sync the band with), bound to the band id under its own
   * subkey. Null for bands registered before sync keys were recorded: kiosks are not given those.
   */
  syncKeySealed?: Buffer | null;
  /** Last registration, replacement or sync key added (kiosks refresh by it); registeredAt when absent. */
  changedAt?: number;
  /** The band's health as a kiosk last read it (JSON of BandHealth), and when the band was synced. */
  health?: string | null;
  healthAt?: number | null;
}

/** A band as kiosks get it: only bands with a sync key. */
export interface KioskBandRow {
  bandId: string;
  board: string;
  registeredAt: number;
  changedAt: number;
  escrow: boolean;
  syncKeySealed: Buffer;
}

export interface EscrowBandRow {
  rowId: number;
  bandId: string;
  secretSealed: Buffer;
}

export interface NewCode {
  uuid: string;
  codeHash: Buffer;
  testType: TestType;
  symptomDate: string | null;
  testDate: string | null;
  issuedAt: number;
  expiresAt: number;
  issuedBy: string;
}

export interface CodeRow extends NewCode {
  claimedAt: number | null;
  tokenExpiresAt: number | null;
  tokenUsedAt: number | null;
}

export type ClaimResult = { ok: true; code: CodeRow } | { ok: false; reason: "not_found" | "used" | "expired" };

/** One diagnosis key as stored. */
export interface ExposureRow {
  keyData: Buffer;
  rollingStart: number;
  rollingPeriod: number;
  transmissionRisk: number | null;
  reportType: TestType;
  daysSinceOnset: number | null;
  traveler: boolean;
  healthAuthority: string;
  createdAt: number;
  /** When the key may appear in an export: not before its validity ended. */
  releaseAt: number;
  revisedAt: number | null;
  revisedReportType: TestType | null;
  revisedDaysSinceOnset: number | null;
}

/** What a publish does to the store, decided by planPublish (publish-plan.ts) inside the transaction. */
export interface PublishWrite {
  jti: string;
  now: number;
  incoming: ExposureRow[];
  /** Hex key data of the keys a valid revision token covers; null when no token was sent. */
  revisable: ReadonlySet<string> | null;
}

export type PublishOutcome =
  { ok: true; inserted: number; revised: number; warnings: string[] } | { ok: false; code: string; error: string };

export interface BandLogWrite {
  jti: string;
  sha256: Buffer;
  bandId: string;
  body: Buffer;
  segments: number;
  records: number;
  uploadedAt: number;
  reportType: TestType;
  symptomOnsetInterval: number | null;
  /** "pending" in escrow deployments (F1 resolution queued), "off" otherwise. */
  resolution: "pending" | "off";
}

export type BandLogOutcome =
  { status: "stored"; id: number } | { status: "duplicate"; id: number } | { status: "certificate_used" };

export type ResolutionStatus = "off" | "pending" | "running" | "done" | "failed";

export interface BandLogRow {
  id: number;
  sha256: Buffer;
  bandId: string;
  size: number;
  segments: number;
  records: number;
  uploadedAt: number;
  reportType: TestType;
  symptomOnsetInterval: number | null;
  resolution: ResolutionStatus;
  resolvedAt: number | null;
  /** JSON summary of the last resolution run. */
  resolutionSummary: string | null;
}

/** One record of a positive band's log resolved to a registered band. */
export interface F1Sighting {
  f0BandId: string;
  f1BandId: string;
  /** The RPI prefix a record keeps (RECORD_ID_BYTES), hex. */
  rpiPrefix: string;
  /** Unix seconds of the first sighting. */
  startTime: number;
  durationMinutes: number;
  rssiMean: number;
  /** Decrypted from the AEM byte; null if implausible. */
  txPower: number | null;
  /** UTC day number (unix / 86400) of the sighting. */
  day: number;
  logId: number;
}

/** One F1 job as planned: a day of a positive log against the escrow bands with row ids in [bandFrom, bandTo). */
export interface F1JobPlan {
  day: number;
  bandFrom: number;
  /** Exclusive; null for the last range (bands registered after planning fall in it). */
  bandTo: number | null;
}

export type F1JobStatus = "pending" | "running" | "done" | "failed";

export interface F1Job extends F1JobPlan {
  id: number;
  logId: number;
  /** The clock (Unix s) the log's sightings are placed with: the planner's, the same for every job of a log. */
  plannedAt: number;
  status: F1JobStatus;
  /** Claims so far; a completion must name the claim it holds (a taken-over job cannot be completed twice). */
  attempt: number;
  worker: string | null;
  leaseUntil: number | null;
  doneAt: number | null;
  /** JSON: the job's ResolveStats and the (F1 band, day) groups it matched. */
  summary: string | null;
}

/** What the last job of a log does with the summaries of all its jobs (f1/jobs.ts), inside the completion. */
export interface F1LogFinish {
  /** The (F1 band, day) groups the log's jobs matched. */
  groups(jobSummaries: string[]): { f1BandId: string; day: number }[];
  /** Contact rows from every stored sighting of those groups. */
  contacts(sightings: F1Sighting[]): ContactWrite[];
  /** The log's resolution summary (JSON). */
  summary(jobSummaries: string[], contacts: ContactWrite[]): string;
}

export type F1JobOutcome = { status: "lost" } | { status: "done"; logDone: boolean };

export type ContactStatus = "new" | "called" | "unreachable" | "done";

export interface ContactRow {
  id: number;
  f0BandId: string;
  f1BandId: string;
  day: number;
  /** Minutes per attenuation bucket, in bucket order. */
  minutes: number[];
  minAttenuationDb: number | null;
  sightings: number;
  firstSeen: number;
  lastSeen: number;
  closeContact: boolean;
  status: ContactStatus;
  updatedAt: number;
  lastLogId: number;
}

export type ContactWrite = Omit<ContactRow, "id" | "status">;

export interface ContactFilter {
  status?: ContactStatus;
  f0BandId?: string;
  closeOnly?: boolean;
  sinceDay?: number;
  limit: number;
  offset: number;
}

export interface ExportFileRow {
  name: string;
  startTs: number;
  endTs: number;
  batchNum: number;
  batchSize: number;
  keyCount: number;
  createdAt: number;
  zip: Buffer;
}

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  subject: string | null;
  ip: string | null;
  detail: Record<string, unknown> | null;
}

export interface PurgeCutoffs {
  /** Rate-limit buckets last used before this (Unix s; a bucket idle this long is full again anyway). */
  rateBucketsIdleBefore?: number;
  /** Guess lockouts whose lock and failure window both ended before this (Unix s). */
  lockoutsEndedBefore?: number;
  keysEndingBefore: number;
  logsBefore: number;
  codesExpiredBefore: number;
  certificatesUsedBefore: number;
  exportFilesEndingBefore: number;
  auditBefore: number;
}

export interface StoreCounts {
  bands: number;
  escrowBands: number;
  codes: number;
  exposures: number;
  bandLogs: number;
  contacts: number;
  exportFiles: number;
}

/** What an export generation reads (AuthorityStore.runExport). */
export type ExportReader = Pick<
  AuthorityStore,
  "exportCursor" | "earliestPendingRelease" | "exposuresReleasedIn" | "exposuresRevisedIn"
>;

export interface ExportPlan {
  files: ExportFileRow[];
  cursor: number;
}

export interface AuthorityStore {
  close(): Promise<void>;
  counts(): Promise<StoreCounts>;

  getBand(bandId: string): Promise<BandRow | undefined>;
  /** False when the band id is already registered. */
  insertBand(b: BandRow): Promise<boolean>;
  /** Overwrites a registration; one replaced without a sync key is recorded as forgotten (bandsForgottenSince). */
  replaceBand(b: BandRow): Promise<void>;
  /** Deletes a registration and records the deletion for kiosks (bandsForgottenSince). */
  deleteBand(bandId: string, now: number): Promise<boolean>;
  /**
   * Records a band's health read at `at` (JSON), unless a report read later is already stored. False when the
   * registry has no such band.
   */
  setBandHealth(bandId: string, at: number, health: string): Promise<boolean>;
  /** Bands with a sync key changed at or after `since` (all of them when null), in registration order. */
  kioskBands(since: number | null): Promise<KioskBandRow[]>;
  /**
   * Band ids deleted, or replaced without a sync key, at or after `since` that have no sync key now: what a
   * kiosk that refreshed at `since` must forget.
   */
  bandsForgottenSince(since: number): Promise<string[]>;
  /** Escrow bands in row order after `afterRowId`: F1 resolution pages through them. */
  escrowBandPage(afterRowId: number, limit: number): Promise<EscrowBandRow[]>;

  /** False when the code hash collides with a live code (the caller draws another code). */
  insertCode(c: NewCode): Promise<boolean>;
  /** Atomically marks an unexpired, unclaimed code as claimed and attaches a token. */
  claimCode(codeHash: Buffer, now: number, tokenHash: Buffer, tokenExpiresAt: number): Promise<ClaimResult>;
  /** Atomically uses a token once. */
  useToken(tokenHash: Buffer, now: number): Promise<ClaimResult>;
  getCodeByUuid(uuid: string): Promise<CodeRow | undefined>;

  /** Consumes the certificate for publishing and applies planPublish, all or nothing. */
  publish(p: PublishWrite): Promise<PublishOutcome>;
  getExposures(keys: Buffer[]): Promise<ExposureRow[]>;

  storeBandLog(l: BandLogWrite): Promise<BandLogOutcome>;
  getBandLog(id: number): Promise<BandLogRow | undefined>;
  getBandLogBody(id: number): Promise<Buffer | undefined>;
  listBandLogs(limit: number, offset: number): Promise<BandLogRow[]>;
  bandLogIdsBySha(sha: Buffer): Promise<number[]>;
  setResolution(id: number, status: ResolutionStatus, now: number, summary: string | null): Promise<void>;
  /**
   * Puts logs whose whole-log resolution or planning was interrupted (server stopped mid-run) back in the
   * queue: on SQLite (one process) all of them; on PostgreSQL those running longer than `leaseS`. Logs split
   * into F1 jobs are not touched: their jobs carry their own leases.
   */
  requeueInterrupted(leaseS: number): Promise<number>;
  /** The oldest log waiting for F1 resolution. */
  nextPendingLog(): Promise<BandLogRow | undefined>;
  /**
   * Takes the oldest pending log for F1 resolution (marks it running at `now`); a log another worker holds
   * is skipped, so every pending log is claimed by one worker. With `leaseS`, a log marked running (not yet
   * split into jobs) at or before now - leaseS is taken too: its worker died.
   */
  claimPendingLog(now: number, leaseS?: number): Promise<BandLogRow | undefined>;

  /**
   * Where the ranges of `every` registered escrow bands start, after the first: the row ids of the escrow
   * bands at positions every, 2 x every, ... in row order. F1 jobs cover [0, first), [first, second), ...
   */
  escrowBandSplits(every: number): Promise<number[]>;
  /**
   * Replaces the log's F1 jobs with `jobs` (pending) and records their number on the log, if the log is still
   * running under the claim made at `claimedAt` (false otherwise: another worker took the log over).
   */
  planF1Jobs(logId: number, claimedAt: number, plannedAt: number, jobs: F1JobPlan[]): Promise<boolean>;
  /**
   * Takes a pending F1 job, or a running one whose lease ended before `now` (its worker died), for `worker`
   * until now + leaseS; a job another worker is claiming is skipped. Preference, then the oldest: a job of the
   * band range starting at `preferBandFrom` (whose secrets the worker holds unsealed), then one of a range no
   * other worker is running (so two workers do not both unseal one range), then any.
   */
  claimF1Job(now: number, leaseS: number, worker: string, preferBandFrom?: number): Promise<F1Job | undefined>;
  /** Extends the lease of a job still held under `job.attempt`; false when it was taken over. */
  renewF1Job(job: F1Job, leaseUntil: number): Promise<boolean>;
  /**
   * In one transaction: marks the job done if it is still held under `job.attempt` (else "lost", nothing
   * written), stores its sightings, and when it was the log's last open job, recomputes the contacts of the
   * groups all jobs matched (`finish`) and marks the log done.
   */
  completeF1Job(
    job: F1Job,
    now: number,
    sightings: F1Sighting[],
    summary: string,
    finish: F1LogFinish,
  ): Promise<F1JobOutcome>;
  /** Marks a job held under `job.attempt` failed, and its log failed with `summary`. */
  failF1Job(job: F1Job, now: number, summary: string): Promise<void>;
  /** A log's F1 jobs in id order. */
  f1Jobs(logId: number): Promise<F1Job[]>;

  /** Stores resolved sightings (deduplicated across overlapping logs of the same F0 band). */
  saveF1Sightings(sightings: F1Sighting[]): Promise<number>;
  /** All stored sightings between an F0 and the given F1 bands on the given days. */
  f1SightingsFor(f0BandId: string, groups: { f1BandId: string; day: number }[]): Promise<F1Sighting[]>;
  /** Inserts or updates contact rows, keeping each row's status. */
  upsertContacts(rows: ContactWrite[]): Promise<void>;
  listContacts(filter: ContactFilter): Promise<ContactRow[]>;
  setContactStatus(id: number, status: ContactStatus, now: number): Promise<boolean>;

  /** End of the last export window already batched, or null before the first. */
  exportCursor(): Promise<number | null>;
  earliestPendingRelease(): Promise<number | null>;
  /** Keys released, and keys revised, in [from, to). */
  exposuresReleasedIn(from: number, to: number): Promise<ExposureRow[]>;
  exposuresRevisedIn(from: number, to: number): Promise<ExposureRow[]>;
  /** Stores the files of windows up to `cursor` and moves the cursor, atomically. */
  saveExportFiles(files: ExportFileRow[], cursor: number): Promise<void>;
  /**
   * One export generation: `plan` reads through `reader` what is to be batched and returns the files and the
   * new cursor (null when there is nothing to do); they are saved with the cursor atomically with the reads,
   * and by one API node at a time, so no window is batched twice and no key committed meanwhile is skipped.
   * Resolves with the number of files saved.
   */
  runExport(plan: (reader: ExportReader) => Promise<ExportPlan | null>): Promise<number>;
  listExportFiles(sinceEndTs: number): Promise<Omit<ExportFileRow, "zip">[]>;
  getExportFile(name: string): Promise<ExportFileRow | undefined>;

  /** Deletes data older than the cutoffs (Unix seconds; keys by the end of their validity). */
  purge(c: PurgeCutoffs): Promise<Record<string, number>>;

  audit(e: AuditEntry): Promise<void>;

  /**
   * Rate limits and guess lockouts kept in the database, for stores several API nodes share; absent, each
   * process keeps its own in memory (http/rate-limit.ts). `nowMs` is the app's clock. The buckets are bounded
   * to `settings.maxBuckets` rows between purges.
   */
  sharedGuards?(settings: GuardSettings, nowMs: () => number): { rateLimiter: RateLimitTable; lockout: LockoutTable };
  listAudit(limit: number, beforeId?: number): Promise<(AuditEntry & { id: number })[]>;
}

import pg from "pg";
import { bucketSlots, GuardSettings, LockoutTable, RateLimitTable } from "../http/rate-limit";
import { planPublish } from "../publish-plan";
import { MIGRATIONS, migrationSql } from "./migrations";
import {
  auditRow,
  bandLogRow,
  bandRow,
  codeRow,
  contactRow,
  exportFileInfo,
  exposureRow,
  f1ClaimOrder,
  f1JobRow,
  kioskBandRow,
  LOG_COLUMNS,
  Row,
  sightingRow,
} from "./rows";
import {
  AuditEntry,
  AuthorityStore,
  BandLogOutcome,
  BandLogRow,
  BandLogWrite,
  BandRow,
  ClaimResult,
  CodeRow,
  ContactFilter,
  ContactRow,
  ContactStatus,
  ContactWrite,
  EscrowBandRow,
  ExportFileRow,
  ExportPlan,
  ExportReader,
  ExposureRow,
  F1Job,
  F1JobOutcome,
  F1JobPlan,
  F1LogFinish,
  F1Sighting,
  KioskBandRow,
  NewCode,
  PublishOutcome,
  PublishWrite,
  PurgeCutoffs,
  ResolutionStatus,
  StoreCounts,
} from "./store";

/** True for a `--db` value that names a PostgreSQL server rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** The URL with its password replaced by `***`: what logs and error messages may show. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}

/** A message with any occurrence of the URL's password (raw or URL-decoded) replaced by `***`. */
export function redactSecret(message: string, url: string): string {
  let out = message.split(url).join(redactUrl(url));
  let password = "";
  try {
    password = new URL(url).password;
  } catch {
    return out;
  }
  for (const p of new Set([password, safeDecode(password)])) if (p.length > 0) out = out.split(p).join("***");
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** PostgreSQL's error codes a transaction is retried on: another node's concurrent write won the race. */
const RETRY_CODES = new Set(["40001", "40P01", "23505"]);
const MAX_ATTEMPTS = 8;

/** Advisory lock key under which migrations run: nodes starting together migrate one at a time. */
const MIGRATION_LOCK = 0x7472_6163;
/** Advisory lock key export generation runs under: one node at a time. */
const EXPORT_LOCK = 0x7472_6164;

/**
 * Integers are BIGINT columns; node-postgres returns those as strings (they may exceed 2^53). Tracelet's
 * integers are times, counts and row ids, all far below 2^53, so they are read as numbers.
 */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

type Client = pg.PoolClient;

/**
 * The national-scale store: one PostgreSQL database shared by any number of API nodes. Every operation that
 * must be atomic runs in one transaction (READ COMMITTED). Races between nodes end on a unique constraint (a
 * certificate's jti, a key's bytes, a log's hash) or a conditional update; the transaction that lost is run
 * again from the start and then sees the winner's rows (a certificate another node just used is reported as
 * used). SERIALIZABLE was tried first: on small tables PostgreSQL locks whole relations for it, and a burst of
 * publishes aborted one another until the retries ran out.
 * Open with PostgresStore.open(url); the URL's password never appears in an error this store throws.
 */
export class PostgresStore implements AuthorityStore {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
  ) {}

  /** Connects, checks the server is reachable and migrates the schema (under an advisory lock). */
  static async open(url: string, o: { poolSize?: number } = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: o.poolSize ?? 10, types, connectionTimeoutMillis: 10000 });
    // An idle connection the server drops (restart, failover) emits here; the next query opens a new one.
    pool.on("error", () => undefined);
    const store = new PostgresStore(pool, url);
    try {
      await store.migrate();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw store.wrap(e, "cannot open PostgreSQL database");
    }
    return store;
  }

  /** An Error whose message names the server without its password. */
  private wrap(e: unknown, what: string): Error {
    const err = e as Error & { code?: string };
    const reason = err.code === "ECONNREFUSED" ? "connection refused (is the server running?)" : err.message;
    return new Error(`${what} ${redactUrl(this.url)}: ${redactSecret(reason || String(e), this.url)}`);
  }

  private async query(sql: string, args: unknown[] = [], c?: Client): Promise<pg.QueryResult<Row>> {
    try {
      return await (c ?? this.pool).query<Row>(sql, args);
    } catch (e) {
      throw this.scrub(e);
    }
  }

  /** Errors keep their code (the retry loop reads it) but lose any trace of the password. */
  private scrub(e: unknown): unknown {
    if (e instanceof Error) e.message = redactSecret(e.message, this.url);
    return e;
  }

  private async one(sql: string, args: unknown[] = [], c?: Client): Promise<Row | undefined> {
    return (await this.query(sql, args, c)).rows[0];
  }

  private async all(sql: string, args: unknown[] = [], c?: Client): Promise<Row[]> {
    return (await this.query(sql, args, c)).rows;
  }

  /** Runs `f` in one transaction, again from the start when it lost a race to another node. */
  private async tx<T>(f: (c: Client) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const c = await this.pool.connect().catch((e: unknown) => {
        throw this.wrap(e, "cannot reach PostgreSQL at");
      });
      try {
        await c.query("BEGIN");
        const r = await f(c);
        await c.query("COMMIT");
        return r;
      } catch (e) {
        await c.query("ROLLBACK").catch(() => undefined);
        const code = (e as { code?: string }).code;
        if (attempt < MAX_ATTEMPTS && code && RETRY_CODES.has(code)) {
          await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
          continue;
        }
        throw this.scrub(e);
      } finally {
        c.release();
      }
    }
  }

  private async migrate(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      await c.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await c.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
      );
      const applied = new Set(
        (await c.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => r.version),
      );
      const known = new Set(MIGRATIONS.map((m) => m.version));
      for (const v of applied) {
        if (!known.has(v))
          throw new Error(`database schema version ${v} is newer than this tracelet; upgrade tracelet`);
      }
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await c.query(migrationSql(m, "postgres"));
        await c.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [
          m.version,
          m.name,
          Math.floor(Date.now() / 1000),
        ]);
      }
      await c.query("COMMIT");
    } catch (e) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  /** The schema version after migrations. */
  async schemaVersion(): Promise<number> {
    return (await this.one("SELECT MAX(version) AS v FROM schema_migrations"))!.v as number;
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  async counts(): Promise<StoreCounts> {
    const r = (await this.one(
      `SELECT (SELECT COUNT(*) FROM bands) AS bands,
         (SELECT COUNT(*) FROM bands WHERE secret_sealed IS NOT NULL) AS escrow_bands,
         (SELECT COUNT(*) FROM verification_codes) AS codes,
         (SELECT COUNT(*) FROM exposures) AS exposures,
         (SELECT COUNT(*) FROM band_logs) AS band_logs,
         (SELECT COUNT(*) FROM contacts) AS contacts,
         (SELECT COUNT(*) FROM export_files) AS export_files`,
    ))!;
    return {
      bands: r.bands as number,
      escrowBands: r.escrow_bands as number,
      codes: r.codes as number,
      exposures: r.exposures as number,
      bandLogs: r.band_logs as number,
      contacts: r.contacts as number,
      exportFiles: r.export_files as number,
    };
  }

  // ---- bands

  async getBand(bandId: string): Promise<BandRow | undefined> {
    const r = await this.one("SELECT * FROM bands WHERE band_id = $1", [bandId]);
    return r ? bandRow(r) : undefined;
  }

  async insertBand(b: BandRow): Promise<boolean> {
    const r = await this.query(
      `INSERT INTO bands (band_id, board, registered_at, registered_by, secret_sealed, sync_key_sealed, changed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (band_id) DO NOTHING`,
      [
        b.bandId,
        b.board,
        b.registeredAt,
        b.registeredBy,
        b.secretSealed,
        b.syncKeySealed ?? null,
        b.changedAt ?? b.registeredAt,
      ],
    );
    return r.rowCount === 1;
  }

  async replaceBand(b: BandRow): Promise<void> {
    const changedAt = b.changedAt ?? b.registeredAt;
    await this.tx(async (c) => {
      await this.query(
        `UPDATE bands SET board = $1, registered_at = $2, registered_by = $3, secret_sealed = $4, sync_key_sealed = $5,
           changed_at = $6, health = NULL, health_at = NULL WHERE band_id = $7`,
        [b.board, b.registeredAt, b.registeredBy, b.secretSealed, b.syncKeySealed ?? null, changedAt, b.bandId],
        c,
      );
      if (!b.syncKeySealed) await this.recordForgotten(c, b.bandId, changedAt);
    });
  }

  async setBandHealth(bandId: string, at: number, health: string): Promise<boolean> {
    return this.tx(async (c) => {
      if (!(await this.one("SELECT 1 FROM bands WHERE band_id = $1", [bandId], c))) return false;
      await this.query(
        "UPDATE bands SET health = $1, health_at = $2 WHERE band_id = $3 AND (health_at IS NULL OR health_at <= $2)",
        [health, at, bandId],
        c,
      );
      return true;
    });
  }

  async deleteBand(bandId: string, now: number): Promise<boolean> {
    return this.tx(async (c) => {
      const deleted = (await this.query("DELETE FROM bands WHERE band_id = $1", [bandId], c)).rowCount === 1;
      if (deleted) await this.recordForgotten(c, bandId, now);
      return deleted;
    });
  }

  private async recordForgotten(c: Client, bandId: string, at: number): Promise<void> {
    await this.query(
      `INSERT INTO band_deletions (band_id, deleted_at) VALUES ($1, $2)
       ON CONFLICT (band_id) DO UPDATE SET deleted_at = excluded.deleted_at`,
      [bandId, at],
      c,
    );
  }

  async kioskBands(since: number | null): Promise<KioskBandRow[]> {
    const rows = await this.all(
      `SELECT band_id, board, registered_at, changed_at,
         CASE WHEN secret_sealed IS NOT NULL THEN 1 ELSE 0 END AS escrow, sync_key_sealed
       FROM bands WHERE sync_key_sealed IS NOT NULL AND ($1::BIGINT IS NULL OR changed_at >= $1) ORDER BY row_id`,
      [since],
    );
    return rows.map(kioskBandRow);
  }

  async bandsForgottenSince(since: number): Promise<string[]> {
    const rows = await this.all(
      `SELECT d.band_id FROM band_deletions d LEFT JOIN bands b ON b.band_id = d.band_id
       WHERE d.deleted_at >= $1 AND b.sync_key_sealed IS NULL ORDER BY d.deleted_at, d.band_id`,
      [since],
    );
    return rows.map((r) => r.band_id as string);
  }

  async escrowBandPage(afterRowId: number, limit: number): Promise<EscrowBandRow[]> {
    const rows = await this.all(
      "SELECT row_id, band_id, secret_sealed FROM bands WHERE secret_sealed IS NOT NULL AND row_id > $1 ORDER BY row_id LIMIT $2",
      [afterRowId, limit],
    );
    return rows.map((r) => ({
      rowId: r.row_id as number,
      bandId: r.band_id as string,
      secretSealed: r.secret_sealed as Buffer,
    }));
  }

  // ---- verification codes

  async insertCode(c: NewCode): Promise<boolean> {
    const r = await this.query(
      `INSERT INTO verification_codes (uuid, code_hash, test_type, symptom_date, test_date, issued_at, expires_at, issued_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code_hash) DO NOTHING`,
      [c.uuid, c.codeHash, c.testType, c.symptomDate, c.testDate, c.issuedAt, c.expiresAt, c.issuedBy],
    );
    return r.rowCount === 1;
  }

  async claimCode(codeHash: Buffer, now: number, tokenHash: Buffer, tokenExpiresAt: number): Promise<ClaimResult> {
    return this.tx(async (c): Promise<ClaimResult> => {
      const r = await this.query(
        `UPDATE verification_codes SET claimed_at = $1, token_hash = $2, token_expires_at = $3
         WHERE code_hash = $4 AND claimed_at IS NULL AND expires_at > $1`,
        [now, tokenHash, tokenExpiresAt, codeHash],
        c,
      );
      const row = await this.one("SELECT * FROM verification_codes WHERE code_hash = $1", [codeHash], c);
      if (!row) return { ok: false, reason: "not_found" };
      if (r.rowCount === 1) return { ok: true, code: codeRow(row) };
      return { ok: false, reason: row.claimed_at !== null ? "used" : "expired" };
    });
  }

  async useToken(tokenHash: Buffer, now: number): Promise<ClaimResult> {
    return this.tx(async (c): Promise<ClaimResult> => {
      const r = await this.query(
        `UPDATE verification_codes SET token_used_at = $1
         WHERE token_hash = $2 AND token_used_at IS NULL AND token_expires_at > $1`,
        [now, tokenHash],
        c,
      );
      const row = await this.one("SELECT * FROM verification_codes WHERE token_hash = $1", [tokenHash], c);
      if (!row) return { ok: false, reason: "not_found" };
      if (r.rowCount === 1) return { ok: true, code: codeRow(row) };
      return { ok: false, reason: row.token_used_at !== null ? "used" : "expired" };
    });
  }

  async getCodeByUuid(uuid: string): Promise<CodeRow | undefined> {
    const r = await this.one("SELECT * FROM verification_codes WHERE uuid = $1", [uuid]);
    return r ? codeRow(r) : undefined;
  }

  // ---- diagnosis keys

  async publish(p: PublishWrite): Promise<PublishOutcome> {
    return this.tx(async (c): Promise<PublishOutcome> => {
      if (await this.one("SELECT 1 FROM used_certificates WHERE jti = $1 AND purpose = 'publish'", [p.jti], c)) {
        return {
          ok: false,
          code: "certificate_used",
          error: "this verification certificate was already used to publish",
        };
      }
      const existing = new Map<string, ExposureRow>();
      if (p.incoming.length > 0) {
        const rows = await this.all(
          "SELECT * FROM exposures WHERE key_data = ANY($1::BYTEA[])",
          [p.incoming.map((k) => k.keyData)],
          c,
        );
        for (const r of rows) existing.set((r.key_data as Buffer).toString("hex"), exposureRow(r));
      }
      const plan = planPublish(existing, p.incoming, p.revisable);
      if (plan.error) return { ok: false, ...plan.error };
      // Another node may have batched the windows up to the cursor since this node read its clock: a key (or
      // revision) dated before the cursor would never be exported, so it is released at the cursor instead.
      // The shared export lock keeps an export from starting until this transaction has ended.
      await this.query("SELECT pg_advisory_xact_lock_shared($1)", [EXPORT_LOCK], c);
      const cursor = (await this.reader(c).exportCursor()) ?? 0;
      const revisedAt = Math.max(p.now, cursor);
      for (const k of plan.inserts) {
        await this.query(
          `INSERT INTO exposures (key_data, rolling_start, rolling_period, transmission_risk, report_type,
             days_since_onset, traveler, health_authority, created_at, release_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [
            k.keyData,
            k.rollingStart,
            k.rollingPeriod,
            k.transmissionRisk,
            k.reportType,
            k.daysSinceOnset,
            k.traveler ? 1 : 0,
            k.healthAuthority,
            k.createdAt,
            Math.max(k.releaseAt, cursor),
          ],
          c,
        );
      }
      for (const r of plan.revisions) {
        await this.query(
          `UPDATE exposures SET revised_at = $1, revised_report_type = $2, revised_days_since_onset = $3
           WHERE key_data = $4 AND revised_at IS NULL`,
          [revisedAt, r.reportType, r.daysSinceOnset, r.keyData],
          c,
        );
      }
      await this.query(
        "INSERT INTO used_certificates (jti, purpose, used_at, ref) VALUES ($1, 'publish', $2, NULL)",
        [p.jti, p.now],
        c,
      );
      return { ok: true, inserted: plan.inserts.length, revised: plan.revisions.length, warnings: plan.warnings };
    });
  }

  async getExposures(keys: Buffer[]): Promise<ExposureRow[]> {
    if (keys.length === 0) return [];
    const rows = await this.all("SELECT * FROM exposures WHERE key_data = ANY($1::BYTEA[])", [keys]);
    const byKey = new Map(rows.map((r) => [(r.key_data as Buffer).toString("hex"), r]));
    const out: ExposureRow[] = [];
    for (const k of keys) {
      const r = byKey.get(k.toString("hex"));
      if (r) out.push(exposureRow(r));
    }
    return out;
  }

  // ---- band logs

  async storeBandLog(l: BandLogWrite): Promise<BandLogOutcome> {
    return this.tx(async (c): Promise<BandLogOutcome> => {
      const used = await this.one(
        "SELECT ref FROM used_certificates WHERE jti = $1 AND purpose = 'band-log'",
        [l.jti],
        c,
      );
      const existing = await this.one("SELECT id FROM band_logs WHERE sha256 = $1", [l.sha256], c);
      if (used) {
        // A replay of the very same upload is answered as a duplicate; anything else is a reused certificate.
        return existing && existing.id === used.ref
          ? { status: "duplicate", id: existing.id as number }
          : { status: "certificate_used" };
      }
      let id: number;
      let status: "stored" | "duplicate";
      if (existing) {
        id = existing.id as number;
        status = "duplicate";
      } else {
        const r = await this.one(
          `INSERT INTO band_logs (sha256, band_id, body, size, segments, records, uploaded_at, report_type,
             symptom_onset_interval, resolution)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
          [
            l.sha256,
            l.bandId,
            l.body,
            l.body.length,
            l.segments,
            l.records,
            l.uploadedAt,
            l.reportType,
            l.symptomOnsetInterval,
            l.resolution,
          ],
          c,
        );
        id = r!.id as number;
        status = "stored";
      }
      await this.query(
        "INSERT INTO used_certificates (jti, purpose, used_at, ref) VALUES ($1, 'band-log', $2, $3)",
        [l.jti, l.uploadedAt, id],
        c,
      );
      return { status, id };
    });
  }

  async getBandLog(id: number): Promise<BandLogRow | undefined> {
    const r = await this.one(`SELECT ${LOG_COLUMNS} FROM band_logs WHERE id = $1`, [id]);
    return r ? bandLogRow(r) : undefined;
  }

  async getBandLogBody(id: number): Promise<Buffer | undefined> {
    const r = await this.one("SELECT body FROM band_logs WHERE id = $1", [id]);
    return r?.body as Buffer | undefined;
  }

  async listBandLogs(limit: number, offset: number): Promise<BandLogRow[]> {
    const rows = await this.all(`SELECT ${LOG_COLUMNS} FROM band_logs ORDER BY id DESC LIMIT $1 OFFSET $2`, [
      limit,
      offset,
    ]);
    return rows.map(bandLogRow);
  }

  async bandLogIdsBySha(sha: Buffer): Promise<number[]> {
    return (await this.all("SELECT id FROM band_logs WHERE sha256 = $1", [sha])).map((r) => r.id as number);
  }

  async setResolution(id: number, status: ResolutionStatus, now: number, summary: string | null): Promise<void> {
    if (status !== "pending") {
      await this.query(
        "UPDATE band_logs SET resolution = $1, resolved_at = $2, resolution_summary = $3 WHERE id = $4",
        [status, now, summary, id],
      );
      return;
    }
    // Queued again: its old jobs (if it was split) go, and the next claim plans it afresh.
    await this.tx(async (c) => {
      await this.query(
        "UPDATE band_logs SET resolution = 'pending', resolved_at = $1, resolution_summary = $2, jobs = NULL WHERE id = $3",
        [now, summary, id],
        c,
      );
      await this.query("DELETE FROM f1_jobs WHERE log_id = $1", [id], c);
    });
  }

  /**
   * Other nodes and workers may be resolving logs right now: only a log running (whole, or being planned) for
   * longer than the lease (its worker died) goes back in the queue.
   */
  async requeueInterrupted(leaseS: number): Promise<number> {
    const r = await this.query(
      "UPDATE band_logs SET resolution = 'pending' WHERE resolution = 'running' AND jobs IS NULL AND resolved_at < $1",
      [Math.floor(Date.now() / 1000) - leaseS],
    );
    return r.rowCount ?? 0;
  }

  async claimPendingLog(now: number, leaseS?: number): Promise<BandLogRow | undefined> {
    const r = await this.one(
      `UPDATE band_logs SET resolution = 'running', resolved_at = $1, resolution_summary = NULL
       WHERE id = (SELECT id FROM band_logs WHERE resolution = 'pending'
           OR (resolution = 'running' AND jobs IS NULL AND resolved_at <= $2)
         ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
       RETURNING ${LOG_COLUMNS}`,
      [now, leaseS === undefined ? -1 : now - leaseS],
    );
    return r ? bandLogRow(r) : undefined;
  }

  async nextPendingLog(): Promise<BandLogRow | undefined> {
    const r = await this.one(`SELECT ${LOG_COLUMNS} FROM band_logs WHERE resolution = 'pending' ORDER BY id LIMIT 1`);
    return r ? bandLogRow(r) : undefined;
  }

  // ---- F1 jobs

  async escrowBandSplits(every: number): Promise<number[]> {
    const rows = await this.all(
      `SELECT row_id FROM (SELECT row_id, ROW_NUMBER() OVER (ORDER BY row_id) AS n FROM bands
         WHERE secret_sealed IS NOT NULL) AS t WHERE n > 1 AND (n - 1) % $1 = 0 ORDER BY row_id`,
      [every],
    );
    return rows.map((r) => r.row_id as number);
  }

  async planF1Jobs(logId: number, claimedAt: number, plannedAt: number, jobs: F1JobPlan[]): Promise<boolean> {
    return this.tx(async (c) => {
      const held = await this.query(
        "UPDATE band_logs SET jobs = $1 WHERE id = $2 AND resolution = 'running' AND jobs IS NULL AND resolved_at = $3",
        [jobs.length, logId, claimedAt],
        c,
      );
      if (held.rowCount !== 1) return false;
      await this.query("DELETE FROM f1_jobs WHERE log_id = $1", [logId], c);
      await this.query(
        `INSERT INTO f1_jobs (log_id, day, band_from, band_to, planned_at, status)
         SELECT $1, d, f, t, $2, 'pending' FROM unnest($3::BIGINT[], $4::BIGINT[], $5::BIGINT[]) AS u(d, f, t)`,
        [logId, plannedAt, jobs.map((j) => j.day), jobs.map((j) => j.bandFrom), jobs.map((j) => j.bandTo)],
        c,
      );
      return true;
    });
  }

  async claimF1Job(now: number, leaseS: number, worker: string, preferBandFrom?: number): Promise<F1Job | undefined> {
    const r = await this.one(
      `UPDATE f1_jobs SET status = 'running', attempt = attempt + 1, worker = $2, lease_until = $3
       WHERE id = (SELECT id FROM f1_jobs j WHERE status = 'pending' OR (status = 'running' AND lease_until < $1)
         ORDER BY ${f1ClaimOrder("$1", "$4")}
         FOR UPDATE SKIP LOCKED LIMIT 1)
       RETURNING *`,
      [now, worker, now + leaseS, preferBandFrom ?? null],
    );
    return r ? f1JobRow(r) : undefined;
  }

  async renewF1Job(job: F1Job, leaseUntil: number): Promise<boolean> {
    const r = await this.query(
      "UPDATE f1_jobs SET lease_until = $1 WHERE id = $2 AND attempt = $3 AND status = 'running'",
      [leaseUntil, job.id, job.attempt],
    );
    return r.rowCount === 1;
  }

  /**
   * The log's row is locked first: two workers completing the log's last two jobs at once take turns, and the
   * second sees the first's job done, so exactly one of them finishes the log.
   */
  async completeF1Job(
    job: F1Job,
    now: number,
    sightings: F1Sighting[],
    summary: string,
    finish: F1LogFinish,
  ): Promise<F1JobOutcome> {
    return this.tx(async (c): Promise<F1JobOutcome> => {
      const log = await this.one("SELECT band_id FROM band_logs WHERE id = $1 FOR UPDATE", [job.logId], c);
      const held = await this.query(
        `UPDATE f1_jobs SET status = 'done', done_at = $1, summary = $2, lease_until = NULL
         WHERE id = $3 AND attempt = $4 AND status = 'running'`,
        [now, summary, job.id, job.attempt],
        c,
      );
      if (held.rowCount !== 1) return { status: "lost" };
      await this.insertSightings(c, sightings);
      const open = await this.one(
        "SELECT COUNT(*) AS n FROM f1_jobs WHERE log_id = $1 AND status <> 'done'",
        [job.logId],
        c,
      );
      if ((open!.n as number) > 0 || !log) return { status: "done", logDone: false };
      const summaries = (
        await this.all("SELECT summary FROM f1_jobs WHERE log_id = $1 ORDER BY id", [job.logId], c)
      ).map((r) => r.summary as string);
      const contacts = finish.contacts(await this.sightingsFor(log.band_id as string, finish.groups(summaries), c));
      await this.writeContacts(c, contacts);
      await this.query(
        "UPDATE band_logs SET resolution = 'done', resolved_at = $1, resolution_summary = $2 WHERE id = $3",
        [now, finish.summary(summaries, contacts), job.logId],
        c,
      );
      return { status: "done", logDone: true };
    });
  }

  async failF1Job(job: F1Job, now: number, summary: string): Promise<void> {
    await this.tx(async (c) => {
      await this.one("SELECT 1 FROM band_logs WHERE id = $1 FOR UPDATE", [job.logId], c);
      const held = await this.query(
        `UPDATE f1_jobs SET status = 'failed', done_at = $1, summary = $2, lease_until = NULL
         WHERE id = $3 AND attempt = $4 AND status = 'running'`,
        [now, summary, job.id, job.attempt],
        c,
      );
      if (held.rowCount === 1)
        await this.query(
          "UPDATE band_logs SET resolution = 'failed', resolved_at = $1, resolution_summary = $2 WHERE id = $3",
          [now, summary, job.logId],
          c,
        );
    });
  }

  async f1Jobs(logId: number): Promise<F1Job[]> {
    return (await this.all("SELECT * FROM f1_jobs WHERE log_id = $1 ORDER BY id", [logId])).map(f1JobRow);
  }

  // ---- F1 resolution

  async saveF1Sightings(sightings: F1Sighting[]): Promise<number> {
    return this.tx((c) => this.insertSightings(c, sightings));
  }

  private async insertSightings(c: Client, sightings: F1Sighting[]): Promise<number> {
    let n = 0;
    for (const s of sightings) {
      const r = await this.query(
        `INSERT INTO f1_sightings (f0_band_id, rpi_prefix, start_time, f1_band_id, duration_minutes, rssi_mean,
           tx_power, day, log_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
        [s.f0BandId, s.rpiPrefix, s.startTime, s.f1BandId, s.durationMinutes, s.rssiMean, s.txPower, s.day, s.logId],
        c,
      );
      n += r.rowCount ?? 0;
    }
    return n;
  }

  async f1SightingsFor(f0BandId: string, groups: { f1BandId: string; day: number }[]): Promise<F1Sighting[]> {
    return this.sightingsFor(f0BandId, groups);
  }

  private async sightingsFor(
    f0BandId: string,
    groups: { f1BandId: string; day: number }[],
    c?: Client,
  ): Promise<F1Sighting[]> {
    const out: F1Sighting[] = [];
    for (const g of groups) {
      const rows = await this.all(
        "SELECT * FROM f1_sightings WHERE f0_band_id = $1 AND f1_band_id = $2 AND day = $3 ORDER BY start_time, rpi_prefix",
        [f0BandId, g.f1BandId, g.day],
        c,
      );
      for (const r of rows) out.push(sightingRow(r));
    }
    return out;
  }

  async upsertContacts(rows: ContactWrite[]): Promise<void> {
    await this.tx((c) => this.writeContacts(c, rows));
  }

  private async writeContacts(c: Client, rows: ContactWrite[]): Promise<void> {
    for (const r of rows) {
      await this.query(
        `INSERT INTO contacts (f0_band_id, f1_band_id, day, minutes, min_attenuation, sightings, first_seen, last_seen,
           close_contact, updated_at, last_log_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (f0_band_id, f1_band_id, day) DO UPDATE SET minutes = excluded.minutes,
           min_attenuation = excluded.min_attenuation, sightings = excluded.sightings,
           first_seen = excluded.first_seen, last_seen = excluded.last_seen,
           close_contact = excluded.close_contact, updated_at = excluded.updated_at,
           last_log_id = excluded.last_log_id`,
        [
          r.f0BandId,
          r.f1BandId,
          r.day,
          JSON.stringify(r.minutes),
          r.minAttenuationDb,
          r.sightings,
          r.firstSeen,
          r.lastSeen,
          r.closeContact ? 1 : 0,
          r.updatedAt,
          r.lastLogId,
        ],
        c,
      );
    }
  }

  async listContacts(f: ContactFilter): Promise<ContactRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => {
      args.push(v);
      return `$${args.length}`;
    };
    if (f.status) where.push(`status = ${arg(f.status)}`);
    if (f.f0BandId) where.push(`f0_band_id = ${arg(f.f0BandId)}`);
    if (f.closeOnly) where.push("close_contact = 1");
    if (f.sinceDay !== undefined) where.push(`day >= ${arg(f.sinceDay)}`);
    const sql =
      "SELECT * FROM contacts" +
      (where.length ? " WHERE " + where.join(" AND ") : "") +
      ` ORDER BY close_contact DESC, day DESC, id LIMIT ${arg(f.limit)} OFFSET ${arg(f.offset)}`;
    return (await this.all(sql, args)).map(contactRow);
  }

  async setContactStatus(id: number, status: ContactStatus, now: number): Promise<boolean> {
    const r = await this.query("UPDATE contacts SET status = $1, updated_at = $2 WHERE id = $3", [status, now, id]);
    return r.rowCount === 1;
  }

  // ---- exports

  async exportCursor(): Promise<number | null> {
    return this.reader().exportCursor();
  }

  async earliestPendingRelease(): Promise<number | null> {
    return this.reader().earliestPendingRelease();
  }

  async exposuresReleasedIn(from: number, to: number): Promise<ExposureRow[]> {
    return this.reader().exposuresReleasedIn(from, to);
  }

  async exposuresRevisedIn(from: number, to: number): Promise<ExposureRow[]> {
    return this.reader().exposuresRevisedIn(from, to);
  }

  /** The export reads, on the pool or on one transaction's connection. */
  private reader(c?: Client): ExportReader {
    const exportCursor = async () => {
      const r = await this.one("SELECT end_ts FROM export_cursor WHERE id = 1", [], c);
      return r ? (r.end_ts as number) : null;
    };
    return {
      exportCursor,
      earliestPendingRelease: async () => {
        const cursor = (await exportCursor()) ?? 0;
        const r = await this.one(
          `SELECT MIN(t) AS t FROM (SELECT MIN(release_at) AS t FROM exposures WHERE release_at >= $1
             UNION ALL SELECT MIN(revised_at) AS t FROM exposures WHERE revised_at >= $1) AS pending`,
          [cursor],
          c,
        );
        return (r!.t as number | null) ?? null;
      },
      exposuresReleasedIn: async (from, to) =>
        (
          await this.all(
            "SELECT * FROM exposures WHERE release_at >= $1 AND release_at < $2 ORDER BY key_data",
            [from, to],
            c,
          )
        ).map(exposureRow),
      exposuresRevisedIn: async (from, to) =>
        (
          await this.all(
            "SELECT * FROM exposures WHERE revised_at >= $1 AND revised_at < $2 ORDER BY key_data",
            [from, to],
            c,
          )
        ).map(exposureRow),
    };
  }

  /**
   * Nodes take turns: the export holds the export lock exclusively, a publish holds it shared (see publish),
   * so the reads see every publish that started before, and a publish that waited reads the moved cursor and
   * releases its keys after it. The reads and the save are one transaction on one connection.
   */
  async runExport(plan: (reader: ExportReader) => Promise<ExportPlan | null>): Promise<number> {
    return this.tx(async (c) => {
      await this.query("SELECT pg_advisory_xact_lock($1)", [EXPORT_LOCK], c);
      const p = await plan(this.reader(c));
      if (!p) return 0;
      await this.insertExportFiles(c, p.files, p.cursor);
      return p.files.length;
    });
  }

  async saveExportFiles(files: ExportFileRow[], cursor: number): Promise<void> {
    await this.tx((c) => this.insertExportFiles(c, files, cursor));
  }

  private async insertExportFiles(c: Client, files: ExportFileRow[], cursor: number): Promise<void> {
    for (const f of files) {
      await this.query(
        `INSERT INTO export_files (name, start_ts, end_ts, batch_num, batch_size, key_count, created_at, zip)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [f.name, f.startTs, f.endTs, f.batchNum, f.batchSize, f.keyCount, f.createdAt, f.zip],
        c,
      );
    }
    await this.query(
      "INSERT INTO export_cursor (id, end_ts) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET end_ts = excluded.end_ts",
      [cursor],
      c,
    );
  }

  async listExportFiles(sinceEndTs: number): Promise<Omit<ExportFileRow, "zip">[]> {
    const rows = await this.all(
      `SELECT name, start_ts, end_ts, batch_num, batch_size, key_count, created_at FROM export_files
       WHERE end_ts > $1 ORDER BY start_ts, batch_num`,
      [sinceEndTs],
    );
    return rows.map(exportFileInfo);
  }

  async getExportFile(name: string): Promise<ExportFileRow | undefined> {
    const r = await this.one("SELECT * FROM export_files WHERE name = $1", [name]);
    return r ? { ...exportFileInfo(r), zip: r.zip as Buffer } : undefined;
  }

  // ---- retention

  async purge(cut: PurgeCutoffs): Promise<Record<string, number>> {
    return this.tx(async (c) => {
      const run = async (sql: string, ...args: unknown[]) => (await this.query(sql, args, c)).rowCount ?? 0;
      return {
        exposures: await run(
          "DELETE FROM exposures WHERE (rolling_start + rolling_period) * 600 < $1",
          cut.keysEndingBefore,
        ),
        bandLogs: await run("DELETE FROM band_logs WHERE uploaded_at < $1", cut.logsBefore),
        f1Sightings: await run("DELETE FROM f1_sightings WHERE start_time < $1", cut.logsBefore),
        contacts: await run("DELETE FROM contacts WHERE last_seen < $1", cut.logsBefore),
        codes: await run(
          "DELETE FROM verification_codes WHERE expires_at < $1 AND (token_expires_at IS NULL OR token_expires_at < $1)",
          cut.codesExpiredBefore,
        ),
        certificates: await run("DELETE FROM used_certificates WHERE used_at < $1", cut.certificatesUsedBefore),
        exportFiles: await run("DELETE FROM export_files WHERE end_ts < $1", cut.exportFilesEndingBefore),
        audit: await run("DELETE FROM audit_log WHERE at < $1", cut.auditBefore),
        f1Jobs: await run("DELETE FROM f1_jobs WHERE log_id NOT IN (SELECT id FROM band_logs)"),
        rateBuckets:
          cut.rateBucketsIdleBefore === undefined
            ? 0
            : await run("DELETE FROM rate_buckets WHERE at_ms < $1", cut.rateBucketsIdleBefore * 1000),
        lockouts:
          cut.lockoutsEndedBefore === undefined
            ? 0
            : await run("DELETE FROM auth_lockouts WHERE locked_until < $1 AND since < $1", cut.lockoutsEndedBefore),
      };
    });
  }

  // ---- limits shared by the API nodes

  sharedGuards(settings: GuardSettings, nowMs: () => number): { rateLimiter: RateLimitTable; lockout: LockoutTable } {
    const answer = (r: Row, perMinute: number) =>
      r.granted ? 0 : Math.max(1, Math.ceil(((1 - (r.tokens as number)) / perMinute) * 60));
    return {
      rateLimiter: {
        take: async (key, perMinute) => {
          const now = Math.floor(nowMs());
          // A few rounds at most: each ends in a grant or refusal unless another node changed the same
          // slots meanwhile (it took this key's bucket or the slot chosen for it).
          for (let round = 0; round < 4; round++) {
            // The key's bucket: refilled for the time since its last take, gives a token if it has one.
            const hit = await this.one(
              `UPDATE rate_buckets AS b SET
                 tokens = LEAST($2::DOUBLE PRECISION, b.tokens + GREATEST(0, $3::BIGINT - b.at_ms) / 60000.0 * $2)
                   - CASE WHEN LEAST($2, b.tokens + GREATEST(0, $3 - b.at_ms) / 60000.0 * $2) >= 1 THEN 1 ELSE 0 END,
                 granted = LEAST($2, b.tokens + GREATEST(0, $3 - b.at_ms) / 60000.0 * $2) >= 1,
                 at_ms = GREATEST(b.at_ms, $3),
                 used = nextval('rate_buckets_use')
               WHERE key = $1 RETURNING tokens, granted`,
              [key, perMinute, now],
            );
            if (hit) return answer(hit, perMinute);
            // A new bucket, full less this take, in one of the key's candidate slots: a free one, else the
            // one holding a refilled bucket (idle a minute: the same as none), else the least recently used.
            const slots = bucketSlots(key, settings.maxBuckets);
            const held = await this.all(
              "SELECT slot, key, at_ms, used FROM rate_buckets WHERE slot = ANY($1::BIGINT[])",
              [slots],
            );
            const taken = new Set(held.map((r) => Number(r.slot)));
            const free = slots.find((x) => !taken.has(x));
            let r: Row | undefined;
            try {
              if (free !== undefined) {
                r = await this.one(
                  `INSERT INTO rate_buckets (key, slot, tokens, at_ms, granted, used)
                   VALUES ($1, $4, $2::DOUBLE PRECISION - 1, $3, TRUE, nextval('rate_buckets_use'))
                   ON CONFLICT DO NOTHING RETURNING tokens, granted`,
                  [key, perMinute, now, free],
                );
              } else {
                const idle = (b: Row) => (Number(b.at_ms) <= now - 60000 ? 0 : 1);
                const victim = held.sort((a, b) => idle(a) - idle(b) || Number(a.used) - Number(b.used))[0];
                r = await this.one(
                  `UPDATE rate_buckets SET key = $1, tokens = $2::DOUBLE PRECISION - 1, at_ms = $3, granted = TRUE,
                     used = nextval('rate_buckets_use')
                   WHERE slot = $4 AND key = $5 RETURNING tokens, granted`,
                  [key, perMinute, now, victim.slot, victim.key],
                );
              }
            } catch (e) {
              // Another node gave this key a bucket in another slot meanwhile: the next round finds it.
              if ((e as { code?: string }).code !== "23505") throw e;
            }
            if (r) return answer(r, perMinute);
          }
          // Only under heavy contention for these very slots (a flood): refused rather than unlimited.
          return 1;
        },
      },
      lockout: {
        wait: async (keys) => {
          const t = nowMs() / 1000;
          const r = await this.one(
            "SELECT MAX(locked_until) AS until FROM auth_lockouts WHERE key = ANY($1::TEXT[]) AND locked_until > $2",
            [keys, t],
          );
          const until = r?.until as number | null;
          return until ? Math.ceil(until - t) : 0;
        },
        // Each key: count the failure (a new window when the last one ended), then lock it if the count is
        // reached and it is not locked already; the conditional update lets exactly one node lock it.
        fail: async (keys) => {
          const t = nowMs() / 1000;
          const locked: string[] = [];
          for (const key of keys) {
            await this.query(
              `INSERT INTO auth_lockouts AS l (key, since, failures, locked_until) VALUES ($1, $2::DOUBLE PRECISION, 1, 0)
               ON CONFLICT (key) DO UPDATE SET
                 failures = CASE WHEN $2 - l.since > $3 THEN 1 ELSE l.failures + 1 END,
                 since = CASE WHEN $2 - l.since > $3 THEN $2 ELSE l.since END`,
              [key, t, settings.windowS],
            );
            const r = await this.one(
              `UPDATE auth_lockouts SET locked_until = $2::DOUBLE PRECISION + $3::DOUBLE PRECISION, since = $2, failures = 0
               WHERE key = $1 AND failures >= $4 AND locked_until <= $2 RETURNING key`,
              [key, t, settings.lockS, settings.maxFailures],
            );
            if (r) locked.push(key);
          }
          return locked;
        },
      },
    };
  }

  // ---- audit

  async audit(e: AuditEntry): Promise<void> {
    await this.query("INSERT INTO audit_log (at, actor, action, subject, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)", [
      e.at,
      e.actor,
      e.action,
      e.subject,
      e.ip,
      e.detail ? JSON.stringify(e.detail) : null,
    ]);
  }

  async listAudit(limit: number, beforeId?: number): Promise<(AuditEntry & { id: number })[]> {
    const rows = await this.all("SELECT * FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2", [
      beforeId ?? Number.MAX_SAFE_INTEGER,
      limit,
    ]);
    return rows.map(auditRow);
  }
}

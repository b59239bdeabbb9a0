import * as fs from "fs";
import Database from "better-sqlite3";
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
  KioskBandRow,
  ExposureRow,
  F1Job,
  F1JobOutcome,
  F1JobPlan,
  F1LogFinish,
  F1Sighting,
  NewCode,
  PublishOutcome,
  PurgeCutoffs,
  PublishWrite,
  ResolutionStatus,
  StoreCounts,
} from "./store";

/**
 * The embedded store: one SQLite file in WAL mode (readers never block the writer), migrated at open.
 * better-sqlite3 is synchronous, so each method runs to completion before the event loop moves on; the
 * multi-statement operations also run in explicit transactions so a crash never leaves half of one.
 */
export class SqliteStore implements AuthorityStore {
  private readonly db: Database.Database;
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(file: string) {
    if (file !== ":memory:") createPrivate(file);
    this.db = new Database(file);
    if (file !== ":memory:") this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    migrate(this.db);
  }

  /** The schema version after migrations. */
  schemaVersion(): number {
    return (this.db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number }).v;
  }

  private q(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async counts(): Promise<StoreCounts> {
    const n = (sql: string): number => (this.q(sql).get() as { n: number }).n;
    return {
      bands: n("SELECT COUNT(*) AS n FROM bands"),
      escrowBands: n("SELECT COUNT(*) AS n FROM bands WHERE secret_sealed IS NOT NULL"),
      codes: n("SELECT COUNT(*) AS n FROM verification_codes"),
      exposures: n("SELECT COUNT(*) AS n FROM exposures"),
      bandLogs: n("SELECT COUNT(*) AS n FROM band_logs"),
      contacts: n("SELECT COUNT(*) AS n FROM contacts"),
      exportFiles: n("SELECT COUNT(*) AS n FROM export_files"),
    };
  }

  // ---- bands

  async getBand(bandId: string): Promise<BandRow | undefined> {
    const r = this.q("SELECT * FROM bands WHERE band_id = ?").get(bandId) as Row | undefined;
    return r ? bandRow(r) : undefined;
  }

  async insertBand(b: BandRow): Promise<boolean> {
    const r = this.q(
      `INSERT INTO bands (band_id, board, registered_at, registered_by, secret_sealed, sync_key_sealed, changed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(band_id) DO NOTHING`,
    ).run(
      b.bandId,
      b.board,
      b.registeredAt,
      b.registeredBy,
      b.secretSealed,
      b.syncKeySealed ?? null,
      b.changedAt ?? b.registeredAt,
    );
    return r.changes === 1;
  }

  async replaceBand(b: BandRow): Promise<void> {
    const changedAt = b.changedAt ?? b.registeredAt;
    this.db.transaction(() => {
      this.q(
        `UPDATE bands SET board = ?, registered_at = ?, registered_by = ?, secret_sealed = ?, sync_key_sealed = ?,
           changed_at = ?, health = NULL, health_at = NULL WHERE band_id = ?`,
      ).run(b.board, b.registeredAt, b.registeredBy, b.secretSealed, b.syncKeySealed ?? null, changedAt, b.bandId);
      if (!b.syncKeySealed) this.recordForgotten(b.bandId, changedAt);
    })();
  }

  async setBandHealth(bandId: string, at: number, health: string): Promise<boolean> {
    return this.db.transaction(() => {
      if (!this.q("SELECT 1 FROM bands WHERE band_id = ?").get(bandId)) return false;
      this.q(
        "UPDATE bands SET health = ?, health_at = ? WHERE band_id = ? AND (health_at IS NULL OR health_at <= ?)",
      ).run(health, at, bandId, at);
      return true;
    })();
  }

  async deleteBand(bandId: string, now: number): Promise<boolean> {
    return this.db.transaction(() => {
      const deleted = this.q("DELETE FROM bands WHERE band_id = ?").run(bandId).changes === 1;
      if (deleted) this.recordForgotten(bandId, now);
      return deleted;
    })();
  }

  private recordForgotten(bandId: string, at: number): void {
    this.q(
      `INSERT INTO band_deletions (band_id, deleted_at) VALUES (?, ?)
       ON CONFLICT(band_id) DO UPDATE SET deleted_at = excluded.deleted_at`,
    ).run(bandId, at);
  }

  async kioskBands(since: number | null): Promise<KioskBandRow[]> {
    const rows = (
      since === null
        ? this.q(
            `SELECT band_id, board, registered_at, changed_at, secret_sealed IS NOT NULL AS escrow, sync_key_sealed
             FROM bands WHERE sync_key_sealed IS NOT NULL ORDER BY row_id`,
          ).all()
        : this.q(
            `SELECT band_id, board, registered_at, changed_at, secret_sealed IS NOT NULL AS escrow, sync_key_sealed
             FROM bands WHERE sync_key_sealed IS NOT NULL AND changed_at >= ? ORDER BY row_id`,
          ).all(since)
    ) as Row[];
    return rows.map(kioskBandRow);
  }

  async bandsForgottenSince(since: number): Promise<string[]> {
    const rows = this.q(
      `SELECT d.band_id FROM band_deletions d LEFT JOIN bands b ON b.band_id = d.band_id
       WHERE d.deleted_at >= ? AND b.sync_key_sealed IS NULL ORDER BY d.deleted_at, d.band_id`,
    ).all(since) as Row[];
    return rows.map((r) => r.band_id as string);
  }

  async escrowBandPage(afterRowId: number, limit: number): Promise<EscrowBandRow[]> {
    const rows = this.q(
      "SELECT row_id, band_id, secret_sealed FROM bands WHERE secret_sealed IS NOT NULL AND row_id > ? ORDER BY row_id LIMIT ?",
    ).all(afterRowId, limit) as Row[];
    return rows.map((r) => ({
      rowId: r.row_id as number,
      bandId: r.band_id as string,
      secretSealed: r.secret_sealed as Buffer,
    }));
  }

  // ---- verification codes

  async insertCode(c: NewCode): Promise<boolean> {
    const r = this.q(
      `INSERT INTO verification_codes (uuid, code_hash, test_type, symptom_date, test_date, issued_at, expires_at, issued_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(code_hash) DO NOTHING`,
    ).run(c.uuid, c.codeHash, c.testType, c.symptomDate, c.testDate, c.issuedAt, c.expiresAt, c.issuedBy);
    return r.changes === 1;
  }

  async claimCode(codeHash: Buffer, now: number, tokenHash: Buffer, tokenExpiresAt: number): Promise<ClaimResult> {
    return this.db.transaction((): ClaimResult => {
      const r = this.q(
        `UPDATE verification_codes SET claimed_at = ?, token_hash = ?, token_expires_at = ?
         WHERE code_hash = ? AND claimed_at IS NULL AND expires_at > ?`,
      ).run(now, tokenHash, tokenExpiresAt, codeHash, now);
      const row = this.q("SELECT * FROM verification_codes WHERE code_hash = ?").get(codeHash) as Row | undefined;
      if (!row) return { ok: false, reason: "not_found" };
      if (r.changes === 1) return { ok: true, code: codeRow(row) };
      return { ok: false, reason: row.claimed_at !== null ? "used" : "expired" };
    })();
  }

  async useToken(tokenHash: Buffer, now: number): Promise<ClaimResult> {
    return this.db.transaction((): ClaimResult => {
      const r = this.q(
        `UPDATE verification_codes SET token_used_at = ?
         WHERE token_hash = ? AND token_used_at IS NULL AND token_expires_at > ?`,
      ).run(now, tokenHash, now);
      const row = this.q("SELECT * FROM verification_codes WHERE token_hash = ?").get(tokenHash) as Row | undefined;
      if (!row) return { ok: false, reason: "not_found" };
      if (r.changes === 1) return { ok: true, code: codeRow(row) };
      return { ok: false, reason: row.token_used_at !== null ? "used" : "expired" };
    })();
  }

  async getCodeByUuid(uuid: string): Promise<CodeRow | undefined> {
    const r = this.q("SELECT * FROM verification_codes WHERE uuid = ?").get(uuid) as Row | undefined;
    return r ? codeRow(r) : undefined;
  }

  // ---- diagnosis keys

  async publish(p: PublishWrite): Promise<PublishOutcome> {
    return this.db.transaction((): PublishOutcome => {
      if (this.q("SELECT 1 FROM used_certificates WHERE jti = ? AND purpose = 'publish'").get(p.jti)) {
        return {
          ok: false,
          code: "certificate_used",
          error: "this verification certificate was already used to publish",
        };
      }
      const existing = new Map<string, ExposureRow>();
      const get = this.q("SELECT * FROM exposures WHERE key_data = ?");
      for (const k of p.incoming) {
        const r = get.get(k.keyData) as Row | undefined;
        if (r) existing.set(k.keyData.toString("hex"), exposureRow(r));
      }
      const plan = planPublish(existing, p.incoming, p.revisable);
      if (plan.error) return { ok: false, ...plan.error };
      const ins = this.q(
        `INSERT INTO exposures (key_data, rolling_start, rolling_period, transmission_risk, report_type, days_since_onset,
           traveler, health_authority, created_at, release_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const k of plan.inserts) {
        ins.run(
          k.keyData,
          k.rollingStart,
          k.rollingPeriod,
          k.transmissionRisk,
          k.reportType,
          k.daysSinceOnset,
          k.traveler ? 1 : 0,
          k.healthAuthority,
          k.createdAt,
          k.releaseAt,
        );
      }
      const rev = this.q(
        `UPDATE exposures SET revised_at = ?, revised_report_type = ?, revised_days_since_onset = ?
         WHERE key_data = ? AND revised_at IS NULL`,
      );
      for (const r of plan.revisions) rev.run(p.now, r.reportType, r.daysSinceOnset, r.keyData);
      this.q("INSERT INTO used_certificates (jti, purpose, used_at, ref) VALUES (?, 'publish', ?, NULL)").run(
        p.jti,
        p.now,
      );
      return { ok: true, inserted: plan.inserts.length, revised: plan.revisions.length, warnings: plan.warnings };
    })();
  }

  async getExposures(keys: Buffer[]): Promise<ExposureRow[]> {
    const get = this.q("SELECT * FROM exposures WHERE key_data = ?");
    const out: ExposureRow[] = [];
    for (const k of keys) {
      const r = get.get(k) as Row | undefined;
      if (r) out.push(exposureRow(r));
    }
    return out;
  }

  // ---- band logs

  async storeBandLog(l: BandLogWrite): Promise<BandLogOutcome> {
    return this.db.transaction((): BandLogOutcome => {
      const used = this.q("SELECT ref FROM used_certificates WHERE jti = ? AND purpose = 'band-log'").get(l.jti) as
        { ref: number } | undefined;
      const existing = this.q("SELECT id FROM band_logs WHERE sha256 = ?").get(l.sha256) as { id: number } | undefined;
      if (used) {
        // A replay of the very same upload is answered as a duplicate; anything else is a reused certificate.
        return existing && existing.id === used.ref
          ? { status: "duplicate", id: existing.id }
          : { status: "certificate_used" };
      }
      let id: number;
      let status: "stored" | "duplicate";
      if (existing) {
        id = existing.id;
        status = "duplicate";
      } else {
        const r = this.q(
          `INSERT INTO band_logs (sha256, band_id, body, size, segments, records, uploaded_at, report_type,
             symptom_onset_interval, resolution)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
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
        );
        id = Number(r.lastInsertRowid);
        status = "stored";
      }
      this.q("INSERT INTO used_certificates (jti, purpose, used_at, ref) VALUES (?, 'band-log', ?, ?)").run(
        l.jti,
        l.uploadedAt,
        id,
      );
      return { status, id };
    })();
  }

  async getBandLog(id: number): Promise<BandLogRow | undefined> {
    const r = this.q(`SELECT ${LOG_COLUMNS} FROM band_logs WHERE id = ?`).get(id) as Row | undefined;
    return r ? bandLogRow(r) : undefined;
  }

  async getBandLogBody(id: number): Promise<Buffer | undefined> {
    const r = this.q("SELECT body FROM band_logs WHERE id = ?").get(id) as { body: Buffer } | undefined;
    return r?.body;
  }

  async listBandLogs(limit: number, offset: number): Promise<BandLogRow[]> {
    const rows = this.q(`SELECT ${LOG_COLUMNS} FROM band_logs ORDER BY id DESC LIMIT ? OFFSET ?`).all(
      limit,
      offset,
    ) as Row[];
    return rows.map(bandLogRow);
  }

  async bandLogIdsBySha(sha: Buffer): Promise<number[]> {
    return (this.q("SELECT id FROM band_logs WHERE sha256 = ?").all(sha) as { id: number }[]).map((r) => r.id);
  }

  async setResolution(id: number, status: ResolutionStatus, now: number, summary: string | null): Promise<void> {
    this.db.transaction(() => {
      this.q("UPDATE band_logs SET resolution = ?, resolved_at = ?, resolution_summary = ? WHERE id = ?").run(
        status,
        now,
        summary,
        id,
      );
      // Queued again: its old jobs (if it was split) go, and the next claim plans it afresh.
      if (status === "pending") {
        this.q("UPDATE band_logs SET jobs = NULL WHERE id = ?").run(id);
        this.q("DELETE FROM f1_jobs WHERE log_id = ?").run(id);
      }
    })();
  }

  async requeueInterrupted(_leaseS: number): Promise<number> {
    return this.q("UPDATE band_logs SET resolution = 'pending' WHERE resolution = 'running' AND jobs IS NULL").run()
      .changes;
  }

  async nextPendingLog(): Promise<BandLogRow | undefined> {
    const r = this.q(`SELECT ${LOG_COLUMNS} FROM band_logs WHERE resolution = 'pending' ORDER BY id LIMIT 1`).get() as
      Row | undefined;
    return r ? bandLogRow(r) : undefined;
  }

  async claimPendingLog(now: number, leaseS?: number): Promise<BandLogRow | undefined> {
    // IMMEDIATE: a worker process beside the server takes the write lock before reading, so two never claim one log.
    return this.db
      .transaction((): BandLogRow | undefined => {
        const r = this.q(
          `SELECT ${LOG_COLUMNS} FROM band_logs WHERE resolution = 'pending'
             OR (resolution = 'running' AND jobs IS NULL AND resolved_at <= ?) ORDER BY id LIMIT 1`,
        ).get(leaseS === undefined ? -1 : now - leaseS) as Row | undefined;
        if (!r) return undefined;
        this.q(
          "UPDATE band_logs SET resolution = 'running', resolved_at = ?, resolution_summary = NULL WHERE id = ?",
        ).run(now, r.id);
        return bandLogRow({ ...r, resolution: "running", resolved_at: now, resolution_summary: null });
      })
      .immediate();
  }

  // ---- F1 jobs

  async escrowBandSplits(every: number): Promise<number[]> {
    const rows = this.q(
      `SELECT row_id FROM (SELECT row_id, ROW_NUMBER() OVER (ORDER BY row_id) AS n FROM bands
         WHERE secret_sealed IS NOT NULL) AS t WHERE n > 1 AND (n - 1) % ? = 0 ORDER BY row_id`,
    ).all(every) as { row_id: number }[];
    return rows.map((r) => r.row_id);
  }

  async planF1Jobs(logId: number, claimedAt: number, plannedAt: number, jobs: F1JobPlan[]): Promise<boolean> {
    return this.db
      .transaction((): boolean => {
        const held = this.q(
          "UPDATE band_logs SET jobs = ? WHERE id = ? AND resolution = 'running' AND jobs IS NULL AND resolved_at = ?",
        ).run(jobs.length, logId, claimedAt).changes;
        if (held !== 1) return false;
        this.q("DELETE FROM f1_jobs WHERE log_id = ?").run(logId);
        const ins = this.q(
          "INSERT INTO f1_jobs (log_id, day, band_from, band_to, planned_at, status) VALUES (?, ?, ?, ?, ?, 'pending')",
        );
        for (const j of jobs) ins.run(logId, j.day, j.bandFrom, j.bandTo, plannedAt);
        return true;
      })
      .immediate();
  }

  async claimF1Job(now: number, leaseS: number, worker: string, preferBandFrom?: number): Promise<F1Job | undefined> {
    return this.db
      .transaction((): F1Job | undefined => {
        const r = this.q(
          `SELECT id FROM f1_jobs j WHERE status = 'pending' OR (status = 'running' AND lease_until < @now)
           ORDER BY ${f1ClaimOrder("@now", "@prefer")} LIMIT 1`,
        ).get({ now, prefer: preferBandFrom ?? null }) as { id: number } | undefined;
        if (!r) return undefined;
        this.q(
          "UPDATE f1_jobs SET status = 'running', attempt = attempt + 1, worker = ?, lease_until = ? WHERE id = ?",
        ).run(worker, now + leaseS, r.id);
        return f1JobRow(this.q("SELECT * FROM f1_jobs WHERE id = ?").get(r.id) as Row);
      })
      .immediate();
  }

  async renewF1Job(job: F1Job, leaseUntil: number): Promise<boolean> {
    return (
      this.q("UPDATE f1_jobs SET lease_until = ? WHERE id = ? AND attempt = ? AND status = 'running'").run(
        leaseUntil,
        job.id,
        job.attempt,
      ).changes === 1
    );
  }

  async completeF1Job(
    job: F1Job,
    now: number,
    sightings: F1Sighting[],
    summary: string,
    finish: F1LogFinish,
  ): Promise<F1JobOutcome> {
    return this.db
      .transaction((): F1JobOutcome => {
        const held = this.q(
          `UPDATE f1_jobs SET status = 'done', done_at = ?, summary = ?, lease_until = NULL
           WHERE id = ? AND attempt = ? AND status = 'running'`,
        ).run(now, summary, job.id, job.attempt).changes;
        if (held !== 1) return { status: "lost" };
        this.insertSightings(sightings);
        const open = this.q("SELECT COUNT(*) AS n FROM f1_jobs WHERE log_id = ? AND status <> 'done'").get(
          job.logId,
        ) as { n: number };
        if (open.n > 0) return { status: "done", logDone: false };
        const summaries = (
          this.q("SELECT summary FROM f1_jobs WHERE log_id = ? ORDER BY id").all(job.logId) as { summary: string }[]
        ).map((r) => r.summary);
        const log = this.q("SELECT band_id FROM band_logs WHERE id = ?").get(job.logId) as
          { band_id: string } | undefined;
        if (!log) return { status: "done", logDone: false }; // purged meanwhile
        const contacts = finish.contacts(this.sightingsFor(log.band_id, finish.groups(summaries)));
        this.writeContacts(contacts);
        this.q("UPDATE band_logs SET resolution = 'done', resolved_at = ?, resolution_summary = ? WHERE id = ?").run(
          now,
          finish.summary(summaries, contacts),
          job.logId,
        );
        return { status: "done", logDone: true };
      })
      .immediate();
  }

  async failF1Job(job: F1Job, now: number, summary: string): Promise<void> {
    this.db
      .transaction(() => {
        const held = this.q(
          `UPDATE f1_jobs SET status = 'failed', done_at = ?, summary = ?, lease_until = NULL
           WHERE id = ? AND attempt = ? AND status = 'running'`,
        ).run(now, summary, job.id, job.attempt).changes;
        if (held === 1) {
          this.q(
            "UPDATE band_logs SET resolution = 'failed', resolved_at = ?, resolution_summary = ? WHERE id = ?",
          ).run(now, summary, job.logId);
        }
      })
      .immediate();
  }

  async f1Jobs(logId: number): Promise<F1Job[]> {
    return (this.q("SELECT * FROM f1_jobs WHERE log_id = ? ORDER BY id").all(logId) as Row[]).map(f1JobRow);
  }

  // ---- F1 resolution

  async saveF1Sightings(sightings: F1Sighting[]): Promise<number> {
    return this.db.transaction((): number => this.insertSightings(sightings))();
  }

  private insertSightings(sightings: F1Sighting[]): number {
    const ins = this.q(
      `INSERT INTO f1_sightings (f0_band_id, rpi_prefix, start_time, f1_band_id, duration_minutes, rssi_mean,
         tx_power, day, log_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    let n = 0;
    for (const s of sightings) {
      n += ins.run(
        s.f0BandId,
        s.rpiPrefix,
        s.startTime,
        s.f1BandId,
        s.durationMinutes,
        s.rssiMean,
        s.txPower,
        s.day,
        s.logId,
      ).changes;
    }
    return n;
  }

  async f1SightingsFor(f0BandId: string, groups: { f1BandId: string; day: number }[]): Promise<F1Sighting[]> {
    return this.sightingsFor(f0BandId, groups);
  }

  private sightingsFor(f0BandId: string, groups: { f1BandId: string; day: number }[]): F1Sighting[] {
    const sel = this.q("SELECT * FROM f1_sightings WHERE f0_band_id = ? AND f1_band_id = ? AND day = ?");
    const out: F1Sighting[] = [];
    for (const g of groups) {
      for (const r of sel.all(f0BandId, g.f1BandId, g.day) as Row[]) {
        out.push(sightingRow(r));
      }
    }
    return out;
  }

  async upsertContacts(rows: ContactWrite[]): Promise<void> {
    this.db.transaction(() => this.writeContacts(rows))();
  }

  private writeContacts(rows: ContactWrite[]): void {
    const up = this.q(
      `INSERT INTO contacts (f0_band_id, f1_band_id, day, minutes, min_attenuation, sightings, first_seen, last_seen,
         close_contact, updated_at, last_log_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (f0_band_id, f1_band_id, day) DO UPDATE SET minutes = excluded.minutes,
         min_attenuation = excluded.min_attenuation, sightings = excluded.sightings, first_seen = excluded.first_seen,
         last_seen = excluded.last_seen, close_contact = excluded.close_contact, updated_at = excluded.updated_at,
         last_log_id = excluded.last_log_id`,
    );
    for (const c of rows) {
      up.run(
        c.f0BandId,
        c.f1BandId,
        c.day,
        JSON.stringify(c.minutes),
        c.minAttenuationDb,
        c.sightings,
        c.firstSeen,
        c.lastSeen,
        c.closeContact ? 1 : 0,
        c.updatedAt,
        c.lastLogId,
      );
    }
  }

  async listContacts(f: ContactFilter): Promise<ContactRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.status) {
      where.push("status = ?");
      args.push(f.status);
    }
    if (f.f0BandId) {
      where.push("f0_band_id = ?");
      args.push(f.f0BandId);
    }
    if (f.closeOnly) where.push("close_contact = 1");
    if (f.sinceDay !== undefined) {
      where.push("day >= ?");
      args.push(f.sinceDay);
    }
    const sql =
      "SELECT * FROM contacts" +
      (where.length ? " WHERE " + where.join(" AND ") : "") +
      " ORDER BY close_contact DESC, day DESC, id LIMIT ? OFFSET ?";
    const rows = this.db.prepare(sql).all(...args, f.limit, f.offset) as Row[];
    return rows.map(contactRow);
  }

  async setContactStatus(id: number, status: ContactStatus, now: number): Promise<boolean> {
    return this.q("UPDATE contacts SET status = ?, updated_at = ? WHERE id = ?").run(status, now, id).changes === 1;
  }

  // ---- exports

  async exportCursor(): Promise<number | null> {
    const r = this.q("SELECT end_ts FROM export_cursor WHERE id = 1").get() as { end_ts: number } | undefined;
    return r ? r.end_ts : null;
  }

  async earliestPendingRelease(): Promise<number | null> {
    const cursor = (await this.exportCursor()) ?? 0;
    const r = this.q(
      `SELECT MIN(t) AS t FROM (SELECT MIN(release_at) AS t FROM exposures WHERE release_at >= ?
         UNION ALL SELECT MIN(revised_at) AS t FROM exposures WHERE revised_at >= ?)`,
    ).get(cursor, cursor) as { t: number | null };
    return r.t;
  }

  async exposuresReleasedIn(from: number, to: number): Promise<ExposureRow[]> {
    return (
      this.q("SELECT * FROM exposures WHERE release_at >= ? AND release_at < ? ORDER BY key_data").all(
        from,
        to,
      ) as Row[]
    ).map(exposureRow);
  }

  async exposuresRevisedIn(from: number, to: number): Promise<ExposureRow[]> {
    return (
      this.q("SELECT * FROM exposures WHERE revised_at >= ? AND revised_at < ? ORDER BY key_data").all(
        from,
        to,
      ) as Row[]
    ).map(exposureRow);
  }

  async saveExportFiles(files: ExportFileRow[], cursor: number): Promise<void> {
    this.db.transaction(() => {
      const ins = this.q(
        `INSERT INTO export_files (name, start_ts, end_ts, batch_num, batch_size, key_count, created_at, zip)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const f of files)
        ins.run(f.name, f.startTs, f.endTs, f.batchNum, f.batchSize, f.keyCount, f.createdAt, f.zip);
      this.q(
        "INSERT INTO export_cursor (id, end_ts) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET end_ts = excluded.end_ts",
      ).run(cursor);
    })();
  }

  /** In-process callers are one at a time already (ExportBatcher), and nothing else writes this file. */
  async runExport(plan: (reader: ExportReader) => Promise<ExportPlan | null>): Promise<number> {
    const p = await plan(this);
    if (!p) return 0;
    await this.saveExportFiles(p.files, p.cursor);
    return p.files.length;
  }

  async listExportFiles(sinceEndTs: number): Promise<Omit<ExportFileRow, "zip">[]> {
    const rows = this.q(
      `SELECT name, start_ts, end_ts, batch_num, batch_size, key_count, created_at FROM export_files
       WHERE end_ts > ? ORDER BY start_ts, batch_num`,
    ).all(sinceEndTs) as Row[];
    return rows.map(exportFileInfo);
  }

  async getExportFile(name: string): Promise<ExportFileRow | undefined> {
    const r = this.q("SELECT * FROM export_files WHERE name = ?").get(name) as Row | undefined;
    if (!r) return undefined;
    return { ...exportFileInfo(r), zip: r.zip as Buffer };
  }

  // ---- retention

  async purge(c: PurgeCutoffs): Promise<Record<string, number>> {
    return this.db.transaction(() => {
      const run = (sql: string, ...args: unknown[]) => this.q(sql).run(...args).changes;
      return {
        exposures: run("DELETE FROM exposures WHERE (rolling_start + rolling_period) * 600 < ?", c.keysEndingBefore),
        bandLogs: run("DELETE FROM band_logs WHERE uploaded_at < ?", c.logsBefore),
        f1Sightings: run("DELETE FROM f1_sightings WHERE start_time < ?", c.logsBefore),
        contacts: run("DELETE FROM contacts WHERE last_seen < ?", c.logsBefore),
        codes: run(
          "DELETE FROM verification_codes WHERE expires_at < ? AND (token_expires_at IS NULL OR token_expires_at < ?)",
          c.codesExpiredBefore,
          c.codesExpiredBefore,
        ),
        certificates: run("DELETE FROM used_certificates WHERE used_at < ?", c.certificatesUsedBefore),
        exportFiles: run("DELETE FROM export_files WHERE end_ts < ?", c.exportFilesEndingBefore),
        audit: run("DELETE FROM audit_log WHERE at < ?", c.auditBefore),
        f1Jobs: run("DELETE FROM f1_jobs WHERE log_id NOT IN (SELECT id FROM band_logs)"),
        rateBuckets:
          c.rateBucketsIdleBefore === undefined
            ? 0
            : run("DELETE FROM rate_buckets WHERE at_ms < ?", c.rateBucketsIdleBefore * 1000),
        lockouts:
          c.lockoutsEndedBefore === undefined
            ? 0
            : run(
                "DELETE FROM auth_lockouts WHERE locked_until < ? AND since < ?",
                c.lockoutsEndedBefore,
                c.lockoutsEndedBefore,
              ),
      };
    })();
  }

  // ---- audit

  async audit(e: AuditEntry): Promise<void> {
    this.q("INSERT INTO audit_log (at, actor, action, subject, ip, detail) VALUES (?, ?, ?, ?, ?, ?)").run(
      e.at,
      e.actor,
      e.action,
      e.subject,
      e.ip,
      e.detail ? JSON.stringify(e.detail) : null,
    );
  }

  async listAudit(limit: number, beforeId?: number): Promise<(AuditEntry & { id: number })[]> {
    const rows = this.q("SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?").all(
      beforeId ?? Number.MAX_SAFE_INTEGER,
      limit,
    ) as Row[];
    return rows.map(auditRow);
  }
}

function migrate(db: Database.Database): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
  );
  const applied = new Set(
    (db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map((r) => r.version),
  );
  const known = new Set(MIGRATIONS.map((m) => m.version));
  for (const v of applied) {
    if (!known.has(v)) throw new Error(`database schema version ${v} is newer than this tracelet; upgrade tracelet`);
  }
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(migrationSql(m, "sqlite"));
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        m.version,
        m.name,
        Math.floor(Date.now() / 1000),
      );
    })();
  }
}

/**
 * The database holds positive bands' logs: it is created readable by its owner only (0600), and an existing
 * database, WAL or shared-memory file readable by others is narrowed to 0600. SQLite gives the WAL and -shm
 * files it creates the mode of the database file. The kiosk's store uses it too.
 */
export function createPrivate(file: string): void {
  fs.closeSync(fs.openSync(file, "a", 0o600));
  for (const f of [file, file + "-wal", file + "-shm"]) {
    try {
      if ((fs.statSync(f).mode & 0o077) !== 0) fs.chmodSync(f, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
}

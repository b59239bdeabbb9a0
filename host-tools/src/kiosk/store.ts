import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import Database from "better-sqlite3";
import { LogPage } from "../../../firmware/src/protocol/log-mac";
import { BandStatus } from "../../../firmware/src/protocol/sync";
import { open, seal } from "../authority/crypto/secret-box";
import { createPrivate } from "../authority/store/sqlite";

/**
 * The kiosk's durable store: one SQLite file (WAL, `synchronous = FULL`: a page the kiosk ACKs to a band is on
 * disk, whatever happens to the process or the power next) in the kiosk's data directory, beside the kiosk key.
 *
 * What is secret is sealed with AES-256-GCM under the kiosk key (a 32-byte file, mode 0600, created at first
 * start; a key file others can read is refused): log pages (with the band id and the page's cursor as associated
 * data, so a sealed page copied to another row does not open), sync keys, TEKs and verification codes of queued
 * uploads. Counters and health fields (battery, cursors, clock error) are stored in clear so staff can list them.
 *
 * Invariant the crash test holds it to: a band's `cursor` moves only in the transaction that stores the pages
 * before it, so the kiosk never ACKs (and a band never skips) a unit that is not stored.
 */
export const KIOSK_SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registry (
  band_id TEXT PRIMARY KEY, board TEXT NOT NULL, sync_key BLOB NOT NULL, source TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bands (
  band_id TEXT PRIMARY KEY,
  cursor INTEGER NOT NULL DEFAULT 0,
  acked INTEGER NOT NULL DEFAULT 0,
  first_sync_at INTEGER, last_sync_at INTEGER, last_seen_at INTEGER,
  status TEXT, clock_error_s INTEGER, drift_ppm INTEGER,
  dropped_unsynced INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0, next_try_at INTEGER NOT NULL DEFAULT 0, last_error TEXT,
  syncs INTEGER NOT NULL DEFAULT 0,
  checked_cursor INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS syncs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, band_id TEXT NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pages (
  band_id TEXT NOT NULL, start INTEGER NOT NULL, next INTEGER NOT NULL, units INTEGER NOT NULL,
  body BLOB NOT NULL, mac BLOB NOT NULL, sync_id INTEGER NOT NULL, stored_at INTEGER NOT NULL,
  PRIMARY KEY (band_id, start));
CREATE TABLE IF NOT EXISTS uploads (
  id INTEGER PRIMARY KEY AUTOINCREMENT, band_id TEXT NOT NULL, state TEXT NOT NULL, job BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_try_at INTEGER NOT NULL DEFAULT 0, last_error TEXT,
  created_at INTEGER NOT NULL, done_at INTEGER, result TEXT);
CREATE TABLE IF NOT EXISTS exports_seen (name TEXT PRIMARY KEY, keys INTEGER NOT NULL, checked_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS diagnosis_keys (
  tek BLOB NOT NULL, rolling_start INTEGER NOT NULL, rolling_period INTEGER NOT NULL, transmission_risk INTEGER,
  report_type TEXT NOT NULL, days_since_onset INTEGER, export_name TEXT NOT NULL,
  PRIMARY KEY (tek, rolling_start, report_type));
CREATE TABLE IF NOT EXISTS band_matches (
  band_id TEXT NOT NULL, cursor INTEGER NOT NULL, tek TEXT NOT NULL, detail TEXT NOT NULL,
  PRIMARY KEY (band_id, cursor, tek));
CREATE TABLE IF NOT EXISTS exposures (
  band_id TEXT NOT NULL, day TEXT NOT NULL, detail TEXT NOT NULL, found_at INTEGER NOT NULL, seen_by_staff INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (band_id, day));
`;

export interface RegistryEntry {
  bandId: string;
  board: string;
  syncKey: Uint8Array;
}

export interface BandRow {
  bandId: string;
  /** Everything before this cursor is stored here. */
  cursor: number;
  /** The band's sync cursor as its last ACK_OK said. */
  acked: number;
  firstSyncAt: number | null;
  lastSyncAt: number | null;
  lastSeenAt: number | null;
  status: BandStatus | null;
  clockErrorS: number | null;
  driftPpm: number | null;
  droppedUnsynced: boolean;
  failures: number;
  nextTryAt: number;
  lastError: string | null;
  syncs: number;
}

export interface StoredPage extends LogPage {
  start: number;
  units: number;
  syncId: number;
}

/** A diagnosis key as the kiosk keeps it (the matcher's DiagnosisKey). */
export interface StoredKey {
  tek: Uint8Array;
  rollingStartIntervalNumber: number;
  rollingPeriod: number;
  transmissionRisk: number | null;
  reportType: "UNKNOWN" | "CONFIRMED_TEST" | "CONFIRMED_CLINICAL_DIAGNOSIS" | "SELF_REPORT" | "RECURSIVE" | "REVOKED";
  daysSinceOnset: number | null;
}

export interface UploadRow {
  id: number;
  bandId: string;
  state: string;
  job: unknown;
  attempts: number;
  nextTryAt: number;
  lastError: string | null;
  createdAt: number;
  doneAt: number | null;
  result: unknown;
}

type Row = Record<string, unknown>;

export class KioskStore {
  readonly db: Database.Database;
  private readonly key: Buffer;

  /** Opens (creating if needed) the store in `dir`: `kiosk.db` and `kiosk.key`. */
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.key = loadOrCreateKey(path.join(dir, "kiosk.key"));
    const file = path.join(dir, "kiosk.db");
    createPrivate(file);
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    const v = this.db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined;
    if (!v) this.db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(KIOSK_SCHEMA_VERSION));
    else if (Number(v.value) > KIOSK_SCHEMA_VERSION) {
      throw new Error(`kiosk store ${file} is from a newer Tracelet (schema ${v.value}); upgrade this kiosk`);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---------------------------------------------------------------------------------------------- sealing

  /** The authority's secret box (AES-256-GCM, nonce || ciphertext || tag) under the kiosk key. */
  seal(plain: Uint8Array, aad: string): Buffer {
    return seal(this.key, plain, Buffer.from(aad));
  }

  open(sealed: Buffer, aad: string): Buffer {
    const plain = open(this.key, sealed, Buffer.from(aad));
    if (!plain) throw new Error(`a sealed value (${aad.split(":")[0]}) does not open with this kiosk's key`);
    return plain;
  }

  // ---------------------------------------------------------------------------------------------- registry

  /** Replaces the registry entries from `source` (the authority or a file) with `entries`. */
  setRegistry(entries: RegistryEntry[], source: string, now: number): void {
    const put = this.db.prepare(
      "INSERT INTO registry (band_id, board, sync_key, source, updated_at) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (band_id) DO UPDATE SET board = excluded.board, sync_key = excluded.sync_key, " +
        "source = excluded.source, updated_at = excluded.updated_at",
    );
    this.db.transaction(() => {
      for (const e of entries) put.run(e.bandId, e.board, this.seal(e.syncKey, "synckey:" + e.bandId), source, now);
    })();
  }

  removeFromRegistry(bandIds: string[]): void {
    const del = this.db.prepare("DELETE FROM registry WHERE band_id = ?");
    this.db.transaction(() => bandIds.forEach((b) => del.run(b)))();
  }

  registry(): RegistryEntry[] {
    return (this.db.prepare("SELECT band_id, board, sync_key FROM registry ORDER BY band_id").all() as Row[]).map(
      (r) => ({
        bandId: r.band_id as string,
        board: r.board as string,
        syncKey: new Uint8Array(this.open(r.sync_key as Buffer, "synckey:" + (r.band_id as string))),
      }),
    );
  }

  getMeta(key: string): string | undefined {
    const r = this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    return r?.value;
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
      .run(key, value);
  }

  // ---------------------------------------------------------------------------------------------- bands

  band(bandId: string): BandRow | undefined {
    const r = this.db.prepare("SELECT * FROM bands WHERE band_id = ?").get(bandId) as Row | undefined;
    return r ? bandRow(r) : undefined;
  }

  bands(): BandRow[] {
    return (this.db.prepare("SELECT * FROM bands ORDER BY band_id").all() as Row[]).map(bandRow);
  }

  private ensureBand(bandId: string): void {
    this.db.prepare("INSERT OR IGNORE INTO bands (band_id) VALUES (?)").run(bandId);
  }

  seen(bandId: string, at: number): void {
    this.ensureBand(bandId);
    this.db.prepare("UPDATE bands SET last_seen_at = ? WHERE band_id = ?").run(at, bandId);
  }

  /** A sync's status (after any clock set): the record staff see, and what places monotonic segments in time. */
  beginSync(
    bandId: string,
    at: number,
    status: BandStatus,
    clock: { errorS: number | null; driftPpm: number | null },
    droppedUnsynced: boolean,
  ): number {
    this.ensureBand(bandId);
    return this.db.transaction(() => {
      const id = this.db
        .prepare("INSERT INTO syncs (band_id, at, status) VALUES (?, ?, ?)")
        .run(bandId, at, JSON.stringify(status)).lastInsertRowid as number;
      this.db
        .prepare(
          "UPDATE bands SET status = ?, first_sync_at = COALESCE(first_sync_at, ?), clock_error_s = COALESCE(?, clock_error_s), " +
            "drift_ppm = COALESCE(?, drift_ppm), dropped_unsynced = MAX(dropped_unsynced, ?), last_seen_at = ? WHERE band_id = ?",
        )
        .run(JSON.stringify(status), at, clock.errorS, clock.driftPpm, droppedUnsynced ? 1 : 0, at, bandId);
      return id;
    })();
  }

  /**
   * Stores the pages read from `from` on (in cursor order, each starting where the previous one ended) and moves
   * the band's stored cursor to the last page's `next`, in one transaction. Refuses pages that do not continue
   * the stored cursor (a kiosk bug or two syncs of one band at once), so nothing is stored twice.
   */
  storePages(
    bandId: string,
    syncId: number,
    from: number,
    pages: { start: number; page: LogPage; units: number }[],
    now: number,
  ): number {
    return this.db.transaction(() => {
      const cur = this.band(bandId);
      if (!cur) throw new Error(`band ${bandId} has no sync record`);
      if (from < cur.cursor) {
        throw new Error(`pages from cursor ${from} do not continue the stored cursor ${cur.cursor}`);
      }
      const put = this.db.prepare(
        "INSERT INTO pages (band_id, start, next, units, body, mac, sync_id, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      );
      let c = from;
      for (const p of pages) {
        if (p.start !== c || p.page.next <= p.start)
          throw new Error(`page at ${p.start} does not continue cursor ${c}`);
        if (p.units > 0) {
          put.run(
            bandId,
            p.start,
            p.page.next,
            p.units,
            this.seal(p.page.body, pageAad(bandId, p.start)),
            Buffer.from(p.page.mac),
            syncId,
            now,
          );
        }
        c = p.page.next;
      }
      this.db.prepare("UPDATE bands SET cursor = ? WHERE band_id = ?").run(c, bandId);
      return c;
    })();
  }

  /** The band's ACK_OK: its sync cursor now. Never above what is stored. */
  acked(bandId: string, cursor: number, at: number): void {
    const b = this.band(bandId);
    if (b && cursor > b.cursor) throw new Error(`band ${bandId} acked ${cursor}, beyond the stored cursor ${b.cursor}`);
    this.db
      .prepare(
        "UPDATE bands SET acked = ?, last_sync_at = ?, failures = 0, next_try_at = 0, last_error = NULL, syncs = syncs + 1 WHERE band_id = ?",
      )
      .run(cursor, at, bandId);
  }

  failed(bandId: string, error: string, nextTryAt: number): number {
    this.ensureBand(bandId);
    this.db
      .prepare("UPDATE bands SET failures = failures + 1, next_try_at = ?, last_error = ? WHERE band_id = ?")
      .run(nextTryAt, error, bandId);
    return (this.band(bandId) as BandRow).failures;
  }

  pages(bandId: string): StoredPage[] {
    const rows = this.db.prepare("SELECT * FROM pages WHERE band_id = ? ORDER BY start").all(bandId) as Row[];
    return rows.map((r) => ({
      start: r.start as number,
      next: r.next as number,
      units: r.units as number,
      syncId: r.sync_id as number,
      body: new Uint8Array(this.open(r.body as Buffer, pageAad(bandId, r.start as number))),
      mac: new Uint8Array(r.mac as Buffer),
    }));
  }

  syncStatus(syncId: number): BandStatus | undefined {
    const r = this.db.prepare("SELECT status FROM syncs WHERE id = ?").get(syncId) as { status: string } | undefined;
    return r ? (JSON.parse(r.status) as BandStatus) : undefined;
  }

  /** Whether any page of this band is stored. */
  hasLog(bandId: string): boolean {
    return this.db.prepare("SELECT 1 FROM pages WHERE band_id = ? LIMIT 1").get(bandId) !== undefined;
  }

  /** Bands with stored pages. */
  bandsWithLogs(): string[] {
    return (this.db.prepare("SELECT DISTINCT band_id FROM pages ORDER BY band_id").all() as Row[]).map(
      (r) => r.band_id as string,
    );
  }

  /**
   * Deletes pages older than the retention period (by when they were stored: a page holds at most the band's own
   * retention of history) and exposures of days past it; the cursors stay, so nothing is read twice.
   */
  purge(now: number, retentionDays: number): { keys: number; pages: number; matches: number; exposures: number } {
    const cut = now - retentionDays * 86400_000;
    const day = new Date(cut).toISOString().slice(0, 10);
    return this.db.transaction(() => ({
      keys: this.db.prepare("DELETE FROM diagnosis_keys WHERE (rolling_start + rolling_period) * 600000 < ?").run(cut)
        .changes,
      pages: this.db.prepare("DELETE FROM pages WHERE stored_at < ?").run(cut).changes,
      matches: this.db
        .prepare(
          "DELETE FROM band_matches WHERE NOT EXISTS (SELECT 1 FROM pages p WHERE p.band_id = band_matches.band_id " +
            "AND band_matches.cursor >= p.start AND band_matches.cursor < p.next)",
        )
        .run().changes,
      exposures: this.db.prepare("DELETE FROM exposures WHERE day < ?").run(day).changes,
    }))();
  }

  // ---------------------------------------------------------------------------------------------- uploads

  enqueueUpload(bandId: string, job: unknown, now: number): number {
    return this.db
      .prepare("INSERT INTO uploads (band_id, state, job, created_at) VALUES (?, 'queued', ?, ?)")
      .run(bandId, this.seal(Buffer.from(JSON.stringify(job)), "upload:" + bandId), now).lastInsertRowid as number;
  }

  /** Saves a job's progress (the step it reached) so a restart resumes there. */
  updateUpload(
    id: number,
    fields: {
      state?: string;
      job?: unknown;
      error?: string | null;
      nextTryAt?: number;
      attempt?: boolean;
      result?: unknown;
      doneAt?: number;
    },
  ): void {
    const r = this.db.prepare("SELECT band_id FROM uploads WHERE id = ?").get(id) as { band_id: string } | undefined;
    if (!r) throw new Error(`no upload ${id}`);
    const sets: string[] = [];
    const args: unknown[] = [];
    const set = (sql: string, v?: unknown) => {
      sets.push(sql);
      if (v !== undefined) args.push(v);
    };
    if (fields.state !== undefined) set("state = ?", fields.state);
    if (fields.job !== undefined)
      set("job = ?", this.seal(Buffer.from(JSON.stringify(fields.job)), "upload:" + r.band_id));
    if (fields.error !== undefined) set("last_error = ?", fields.error);
    if (fields.nextTryAt !== undefined) set("next_try_at = ?", fields.nextTryAt);
    if (fields.attempt) set("attempts = attempts + 1");
    if (fields.result !== undefined) set("result = ?", JSON.stringify(fields.result));
    if (fields.doneAt !== undefined) set("done_at = ?", fields.doneAt);
    if (!sets.length) return;
    this.db.prepare(`UPDATE uploads SET ${sets.join(", ")} WHERE id = ?`).run(...args, id);
  }

  uploads(filter: { pendingOnly?: boolean } = {}): UploadRow[] {
    const where = filter.pendingOnly ? "WHERE state NOT IN ('done', 'failed')" : "";
    return (this.db.prepare(`SELECT * FROM uploads ${where} ORDER BY id`).all() as Row[]).map((r) => ({
      id: r.id as number,
      bandId: r.band_id as string,
      state: r.state as string,
      job: JSON.parse(this.open(r.job as Buffer, "upload:" + (r.band_id as string)).toString()),
      attempts: r.attempts as number,
      nextTryAt: r.next_try_at as number,
      lastError: r.last_error as string | null,
      createdAt: r.created_at as number,
      doneAt: r.done_at as number | null,
      result: r.result ? JSON.parse(r.result as string) : null,
    }));
  }

  // ---------------------------------------------------------------------------------------------- exposures

  /** Diagnosis keys of the export files processed, kept so bands synced later are checked against them too. */
  saveDiagnosisKeys(name: string, keys: StoredKey[], at: number): void {
    const put = this.db.prepare(
      "INSERT OR REPLACE INTO diagnosis_keys (tek, rolling_start, rolling_period, transmission_risk, report_type, days_since_onset, export_name) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.db.transaction(() => {
      for (const k of keys) {
        put.run(
          Buffer.from(k.tek),
          k.rollingStartIntervalNumber,
          k.rollingPeriod,
          k.transmissionRisk,
          k.reportType,
          k.daysSinceOnset,
          name,
        );
      }
      this.markExportSeen(name, keys.length, at);
    })();
  }

  diagnosisKeys(): StoredKey[] {
    return (this.db.prepare("SELECT * FROM diagnosis_keys").all() as Row[]).map((r) => ({
      tek: new Uint8Array(r.tek as Buffer),
      rollingStartIntervalNumber: r.rolling_start as number,
      rollingPeriod: r.rolling_period as number,
      transmissionRisk: r.transmission_risk as number | null,
      reportType: r.report_type as StoredKey["reportType"],
      daysSinceOnset: r.days_since_onset as number | null,
    }));
  }

  /** Saves matches (sighting at `cursor` of a band x a key): true for each that was not known yet. */
  saveMatches(rows: { bandId: string; cursor: number; tek: string; detail: unknown }[]): number {
    const put = this.db.prepare(
      "INSERT OR IGNORE INTO band_matches (band_id, cursor, tek, detail) VALUES (?, ?, ?, ?)",
    );
    let n = 0;
    this.db.transaction(() => {
      for (const r of rows) n += put.run(r.bandId, r.cursor, r.tek, JSON.stringify(r.detail)).changes;
    })();
    return n;
  }

  matchesOf(bandId: string): unknown[] {
    return (
      this.db.prepare("SELECT detail FROM band_matches WHERE band_id = ? ORDER BY cursor").all(bandId) as Row[]
    ).map((r) => JSON.parse(r.detail as string));
  }

  /** Everything before `cursor` of this band has been checked against every stored diagnosis key. */
  setChecked(bandId: string, cursor: number): void {
    this.db.prepare("UPDATE bands SET checked_cursor = MAX(checked_cursor, ?) WHERE band_id = ?").run(cursor, bandId);
  }

  checkedCursor(bandId: string): number {
    const r = this.db.prepare("SELECT checked_cursor FROM bands WHERE band_id = ?").get(bandId) as
      { checked_cursor: number } | undefined;
    return r ? r.checked_cursor : 0;
  }

  markExposuresSeen(bandId: string): void {
    this.db.prepare("UPDATE exposures SET seen_by_staff = 1 WHERE band_id = ?").run(bandId);
  }

  exportsSeen(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM exports_seen").get() as { n: number }).n;
  }

  exportSeen(name: string): boolean {
    return !!this.db.prepare("SELECT 1 FROM exports_seen WHERE name = ?").get(name);
  }

  markExportSeen(name: string, keys: number, at: number): void {
    this.db.prepare("INSERT OR IGNORE INTO exports_seen (name, keys, checked_at) VALUES (?, ?, ?)").run(name, keys, at);
  }

  /** Saves exposures found for a band; a day already known is updated (and shown to staff again if it grew). */
  saveExposure(bandId: string, day: string, detail: unknown, at: number): boolean {
    const json = JSON.stringify(detail);
    const old = this.db.prepare("SELECT detail FROM exposures WHERE band_id = ? AND day = ?").get(bandId, day) as
      { detail: string } | undefined;
    if (old && old.detail === json) return false;
    this.db
      .prepare(
        "INSERT INTO exposures (band_id, day, detail, found_at) VALUES (?, ?, ?, ?) ON CONFLICT (band_id, day) " +
          "DO UPDATE SET detail = excluded.detail, found_at = excluded.found_at, seen_by_staff = 0",
      )
      .run(bandId, day, json, at);
    return true;
  }

  exposures(
    bandId?: string,
  ): { bandId: string; day: string; detail: unknown; foundAt: number; seenByStaff: boolean }[] {
    const rows = (
      bandId
        ? this.db.prepare("SELECT * FROM exposures WHERE band_id = ? ORDER BY day").all(bandId)
        : this.db.prepare("SELECT * FROM exposures ORDER BY band_id, day").all()
    ) as Row[];
    return rows.map((r) => ({
      bandId: r.band_id as string,
      day: r.day as string,
      detail: JSON.parse(r.detail as string),
      foundAt: r.found_at as number,
      seenByStaff: !!r.seen_by_staff,
    }));
  }
}

function pageAad(bandId: string, start: number): string {
  return `page:${bandId}:${start}`;
}

function bandRow(r: Row): BandRow {
  return {
    bandId: r.band_id as string,
    cursor: r.cursor as number,
    acked: r.acked as number,
    firstSyncAt: r.first_sync_at as number | null,
    lastSyncAt: r.last_sync_at as number | null,
    lastSeenAt: r.last_seen_at as number | null,
    status: r.status ? (JSON.parse(r.status as string) as BandStatus) : null,
    clockErrorS: r.clock_error_s as number | null,
    driftPpm: r.drift_ppm as number | null,
    droppedUnsynced: !!r.dropped_unsynced,
    failures: r.failures as number,
    nextTryAt: r.next_try_at as number,
    lastError: r.last_error as string | null,
    syncs: r.syncs as number,
  };
}

/** The kiosk key: 32 random bytes (hex) in a file only the service user can read, created exclusively. */
function loadOrCreateKey(file: string): Buffer {
  if (!fs.existsSync(file)) {
    try {
      fs.writeFileSync(file, randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  if (process.platform !== "win32" && (fs.statSync(file).mode & 0o077) !== 0) {
    throw new Error(`kiosk key ${file} is readable by group or others; chmod 600 it`);
  }
  const hex = fs.readFileSync(file, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`kiosk key ${file} is not 64 hex digits`);
  return Buffer.from(hex, "hex");
}

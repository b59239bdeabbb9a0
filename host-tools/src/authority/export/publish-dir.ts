import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { AuthorityStore } from "../store/store";
import { INDEX_PREFIX } from "./batches";

/**
 * Exports for a CDN: the export files, index.txt, signing-key.pem and signing-keys.json written to a directory tree with the paths
 * phones fetch from the API (`<root>/v1/exports/...`), so any static server or CDN serving `<root>` answers
 * what `/v1/exports/*` answers. The store stays the source of truth; the directory is a copy that a sync brings
 * up to date:
 * - every file is written to a temporary name in the same folder, flushed, then renamed over its name, so a
 *   reader sees the old file or the new one, never a part;
 * - index.txt is written after every file it names exists, and lists only those;
 * - zips the store no longer holds (purged) are removed after the new index stops naming them; nothing the
 *   store still holds is removed.
 */

/** Export file names as the batcher makes them (`<start>-<end>-<batch>.zip`); the route accepts only these. */
export const EXPORT_FILE_NAME = /^\d{1,12}-\d{1,12}-\d{5}\.zip$/;

/** Temporary files a crashed write left behind are removed once older than this. */
const STALE_TEMP_MS = 3600_000;
const TEMP_MARK = ".tmp-";

export type ExportDirStore = Pick<AuthorityStore, "listExportFiles" | "getExportFile">;

export interface ExportDirOptions {
  /** The tree's root; files go to `<root>/v1/exports/`. */
  root: string;
  store: ExportDirStore;
  /** Files whose window ended before this (seconds) are kept but not listed, as in the API's index.txt. */
  indexSince: number;
  /** The export signing key's public half (PEM), served as signing-key.pem. */
  signingKeyPem: string;
  /** Every export key's public half (signing-keys.json, export/signing-keys.ts), served when given. */
  signingKeysJson?: string;
  /** Compare every existing zip byte for byte with the store and rewrite those that differ (start-up, CLI). */
  verify?: boolean;
}

export interface ExportDirResult {
  /** `<root>/v1/exports`. */
  dir: string;
  /** Zips the store holds (all now on disk). */
  files: number;
  /** Zips written by this sync (missing or, with verify, different). */
  written: number;
  /** Zips removed because the store no longer holds them. */
  removed: number;
  /** Lines of index.txt. */
  listed: number;
}

/** index.txt as the API serves it, from the store's listing. */
export function indexText(names: readonly string[]): string {
  return names.map((n) => INDEX_PREFIX + n + "\n").join("");
}

/** The folder under a tree's root that holds what `/v1/exports/` serves. */
export function exportsFolder(root: string): string {
  return path.join(path.resolve(root), ...INDEX_PREFIX.split("/").filter(Boolean));
}

/** Brings the directory up to date with the store (see the file comment). Throws on the first write that fails. */
export async function syncExportDir(o: ExportDirOptions): Promise<ExportDirResult> {
  const dir = exportsFolder(o.root);
  fs.mkdirSync(dir, { recursive: true });
  removeStaleTemps(dir);
  const all = await o.store.listExportFiles(-1);
  const held = new Set(all.map((f) => f.name));
  let written = 0;
  for (const f of all) {
    const file = path.join(dir, f.name);
    const onDisk = fs.existsSync(file);
    if (onDisk && !o.verify) continue;
    const row = await o.store.getExportFile(f.name);
    if (!row) {
      held.delete(f.name); // purged since the listing
      continue;
    }
    if (onDisk && sameContent(file, row.zip)) continue;
    writeAtomic(file, row.zip);
    written++;
  }
  writeIfChanged(path.join(dir, "signing-key.pem"), Buffer.from(o.signingKeyPem, "utf8"));
  if (o.signingKeysJson !== undefined)
    writeIfChanged(path.join(dir, "signing-keys.json"), Buffer.from(o.signingKeysJson, "utf8"));
  const listed = (await o.store.listExportFiles(o.indexSince))
    .map((f) => f.name)
    .filter((n) => held.has(n) && fs.existsSync(path.join(dir, n)));
  writeIfChanged(path.join(dir, "index.txt"), Buffer.from(indexText(listed), "utf8"));
  let removed = 0;
  for (const name of fs.readdirSync(dir)) {
    // Asked again: another node sharing the directory may have stored and written a file since the listing.
    if (EXPORT_FILE_NAME.test(name) && !held.has(name) && !(await o.store.getExportFile(name))) {
      fs.rmSync(path.join(dir, name), { force: true });
      removed++;
    }
  }
  return { dir, files: held.size, written, removed, listed: listed.length };
}

function sameContent(file: string, data: Buffer): boolean {
  try {
    const st = fs.statSync(file);
    return st.isFile() && st.size === data.length && fs.readFileSync(file).equals(data);
  } catch {
    return false;
  }
}

function writeIfChanged(file: string, data: Buffer): void {
  if (!sameContent(file, data)) writeAtomic(file, data);
}

/** Writes `data` to a temporary file beside `file`, flushes it to disk, then renames it over `file`. */
export function writeAtomic(file: string, data: Buffer): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}${TEMP_MARK}${randomBytes(6).toString("hex")}`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "wx", 0o644);
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Removes temporary files older than an hour (a write another process is making now is younger). */
function removeStaleTemps(dir: string): void {
  const now = Date.now();
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith(".") || !name.includes(TEMP_MARK)) continue;
    const file = path.join(dir, name);
    try {
      if (now - fs.statSync(file).mtimeMs > STALE_TEMP_MS) fs.rmSync(file, { force: true });
    } catch {
      // Gone already (another node cleaned it up).
    }
  }
}

/** Where a publisher puts the export tree: a directory (directoryTarget) or an S3-compatible bucket (publish-s3.ts). */
export interface ExportTarget {
  /** How log lines name it: "export directory <path>", "export bucket s3://<bucket>/<prefix>" (never a credential). */
  name: string;
  sync(o: {
    store: ExportDirStore;
    indexSince: number;
    signingKeyPem: string;
    signingKeysJson?: string;
    verify: boolean;
  }): Promise<{ files: number; written: number; removed: number; index: string }>;
}

/** The directory tree under `root` (syncExportDir). */
export function directoryTarget(root: string): ExportTarget {
  return {
    name: `export directory ${exportsFolder(root)}`,
    sync: async (o) => {
      const r = await syncExportDir({ root, ...o });
      return { ...r, index: fs.readFileSync(path.join(r.dir, "index.txt"), "utf8") };
    },
  };
}

/**
 * An API node's export tree for a CDN (config `exports.publishDir`, `exports.s3`): synced after each background
 * pass that changed what the store lists, after a purge that removed export files, at start-up (comparing every
 * file), and after a failed sync. A failure is logged (where, and the cause) and retried at the next pass; the
 * store keeps the batch.
 */
export class ExportPublisher {
  private lastIndex: string | null = null;
  private failed = false;
  private verified = false;
  private tail: Promise<void> = Promise.resolve();
  /** The last failure's message, or null after a sync that worked. */
  lastError: string | null = null;

  constructor(
    private readonly o: {
      target: ExportTarget;
      store: ExportDirStore;
      retentionDays: number;
      signingKeyPem: string;
      signingKeysJson?: string;
      log: (line: string) => void;
    },
  ) {}

  /** Syncs when needed (`force`: always); never throws. Calls run one after another, in call order. */
  update(now: number, force = false): Promise<void> {
    const next = this.tail.then(() => this.run(now, force));
    this.tail = next;
    return next;
  }

  /** Resolves when every sync asked for so far has finished (a server waits for it before closing the store). */
  async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.tail;
      await seen;
    } while (seen !== this.tail);
  }

  private async run(now: number, force: boolean): Promise<void> {
    const indexSince = now - this.o.retentionDays * 86400;
    const where = this.o.target.name;
    try {
      if (!force && !this.failed && this.verified) {
        const names = (await this.o.store.listExportFiles(indexSince)).map((f) => f.name);
        if (indexText(names) === this.lastIndex) return;
      }
      const r = await this.o.target.sync({
        store: this.o.store,
        indexSince,
        signingKeyPem: this.o.signingKeyPem,
        signingKeysJson: this.o.signingKeysJson,
        verify: !this.verified,
      });
      this.lastIndex = r.index;
      if (this.failed) this.o.log(`authority: ${where} caught up (${r.files} file(s))`);
      this.failed = false;
      this.verified = true;
      this.lastError = null;
      if (r.written || r.removed) {
        this.o.log(`authority: ${where}: ${r.written} file(s) written, ${r.removed} removed`);
      }
    } catch (e) {
      this.failed = true;
      this.lastError = (e as Error)?.message ?? String(e);
      this.o.log(
        `authority: cannot write the ${where}: ${this.lastError}` +
          " (the batches stay in the database; retried at the next export pass)",
      );
    }
  }
}

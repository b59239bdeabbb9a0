import { randomBytes, randomInt } from "crypto";
import { AuthorityConfig } from "../config";
import { AuthoritySecrets } from "../secrets";
import { AuthorityStore, ExportFileRow, ExportPlan, ExportReader, ExposureRow, TestType } from "../store/store";
import {
  encodeExportBin,
  encodeSignatureList,
  ExportKey,
  ReportTypeName,
  SIGNATURE_ALGORITHM,
  signExport,
  zipExport,
} from "./export-file";

/**
 * Export batching: time is cut into fixed windows (config.exports.windowMinutes). When a window has closed,
 * the keys released in it (a key is released when its validity ended, never earlier) and the keys revised in
 * it become one or more signed zips (at most maxKeysPerFile keys each, batch_num/batch_size), stored in the
 * database and listed in index.txt. Keys are sorted by key bytes, so a file says nothing about upload order.
 */
export const REPORT_TYPE_OF: Record<TestType, ReportTypeName> = {
  confirmed: "CONFIRMED_TEST",
  likely: "CONFIRMED_CLINICAL_DIAGNOSIS",
  negative: "REVOKED",
};

export const INDEX_PREFIX = "v1/exports/";

export class ExportBatcher {
  private running: Promise<number> | null = null;

  constructor(
    private readonly store: AuthorityStore,
    private readonly config: AuthorityConfig,
    private readonly secrets: AuthoritySecrets,
    /** Called after a run that stored new files (the export directory for a CDN is synced from here). */
    private readonly onBuilt?: (files: number, now: number) => void,
  ) {}

  /** Builds the files of every closed window not yet batched; concurrent callers share one run. */
  ensureBatches(now: number): Promise<number> {
    if (!this.running) {
      this.running = this.build(now)
        .then((n) => {
          if (n > 0) this.onBuilt?.(n, now);
          return n;
        })
        .finally(() => {
          this.running = null;
        });
    }
    return this.running;
  }

  async index(now: number): Promise<string> {
    await this.ensureBatches(now);
    const files = await this.store.listExportFiles(now - this.config.exports.retentionDays * 86400);
    return files.map((f) => INDEX_PREFIX + f.name + "\n").join("");
  }

  private build(now: number): Promise<number> {
    return this.store.runExport((reader) => this.plan(reader, now));
  }

  private async plan(reader: ExportReader, now: number): Promise<ExportPlan | null> {
    const window = this.config.exports.windowMinutes * 60;
    const closedUntil = Math.floor(now / window) * window;
    let from = await reader.exportCursor();
    if (from === null) {
      const earliest = await reader.earliestPendingRelease();
      if (earliest === null) return null;
      from = Math.floor(earliest / window) * window;
    }
    if (from >= closedUntil) return null;
    const released = await reader.exposuresReleasedIn(from, closedUntil);
    const revised = await reader.exposuresRevisedIn(from, closedUntil);
    const windows = new Map<number, { keys: ExposureRow[]; revised: ExposureRow[] }>();
    const slot = (t: number) => {
      const start = Math.floor(t / window) * window;
      let w = windows.get(start);
      if (!w) {
        w = { keys: [], revised: [] };
        windows.set(start, w);
      }
      return w;
    };
    for (const k of released) slot(k.releaseAt).keys.push(k);
    for (const k of revised) {
      // A key revised before (or in the window of) its first release goes out once, with its new type.
      if (Math.floor(k.releaseAt / window) < Math.floor((k.revisedAt as number) / window))
        slot(k.revisedAt as number).revised.push(k);
    }
    const files: ExportFileRow[] = [];
    for (const [start, w] of [...windows.entries()].sort((a, b) => a[0] - b[0])) {
      files.push(...(await this.windowFiles(start, start + window, w.keys, w.revised, now)));
    }
    return { files, cursor: closedUntil };
  }

  private padding(real: ExportKey[]): ExportKey[] {
    return paddingKeys(real, this.config.exports.minRecords, this.config.exports.paddingRange);
  }

  private async windowFiles(
    start: number,
    end: number,
    keys: ExposureRow[],
    revised: ExposureRow[],
    now: number,
  ): Promise<ExportFileRow[]> {
    const entries = [
      ...keys.map((k) => ({ revised: false, key: exportKey(k, k.revisedAt !== null && k.revisedAt < end) })),
      ...revised.map((k) => ({ revised: true, key: exportKey(k, true) })),
    ];
    entries.push(...this.padding(entries.map((e) => e.key)).map((key) => ({ revised: false, key })));
    entries.sort((a, b) => Buffer.compare(a.key.key_data, b.key.key_data));
    const max = this.config.exports.maxKeysPerFile;
    const batchSize = Math.max(1, Math.ceil(entries.length / max));
    // Every signing key signs (two during a key rotation's overlap), oldest first, each named in export.bin.
    const signers = this.secrets.exportKeys
      .filter((k) => k.signing)
      .map((k) => ({
        key: k.key,
        info: {
          verification_key_version: k.version,
          verification_key_id: this.config.exports.keyId,
          signature_algorithm: SIGNATURE_ALGORITHM,
        },
      }));
    const out: ExportFileRow[] = [];
    for (let b = 0; b < batchSize; b++) {
      const chunk = entries.slice(b * max, (b + 1) * max);
      const bin = encodeExportBin({
        start_timestamp: start,
        end_timestamp: end,
        region: this.config.region,
        batch_num: b + 1,
        batch_size: batchSize,
        signature_infos: signers.map((x) => x.info),
        keys: chunk.filter((e) => !e.revised).map((e) => e.key),
        revised_keys: chunk.filter((e) => e.revised).map((e) => e.key),
      });
      const sig = encodeSignatureList(
        signers.map((x) => ({
          signature_info: x.info,
          batch_num: b + 1,
          batch_size: batchSize,
          signature: signExport(bin, x.key),
        })),
      );
      const name = `${start}-${end}-${String(b + 1).padStart(5, "0")}.zip`;
      out.push({
        name,
        startTs: start,
        endTs: end,
        batchNum: b + 1,
        batchSize,
        keyCount: chunk.length,
        createdAt: now,
        zip: await zipExport(bin, sig, new Date(end * 1000)),
      });
    }
    return out;
  }
}

/**
 * Decoy keys so a file's size does not reveal how many keys (people) it carries: a window with fewer than
 * `exports.minRecords` entries gets random keys up to that many plus a random 0..`paddingRange`. Each decoy copies
 * the metadata (rolling start and period, report type, transmission risk, days since onset) of a random real
 * entry and has random key bytes, so it matches nobody and looks like the real ones.
 */
export function paddingKeys(real: readonly ExportKey[], minRecords: number, paddingRange: number): ExportKey[] {
  if (minRecords === 0 || real.length === 0 || real.length >= minRecords) return [];
  const target = minRecords + randomInt(0, paddingRange + 1);
  const out: ExportKey[] = [];
  while (real.length + out.length < target) {
    const template = real[randomInt(real.length)];
    out.push({ ...template, key_data: randomBytes(16) });
  }
  return out;
}

function exportKey(k: ExposureRow, useRevision: boolean): ExportKey {
  const type = useRevision && k.revisedReportType ? k.revisedReportType : k.reportType;
  const onset = useRevision && k.revisedReportType ? k.revisedDaysSinceOnset : k.daysSinceOnset;
  const key: ExportKey = {
    key_data: k.keyData,
    rolling_start_interval_number: k.rollingStart,
    rolling_period: k.rollingPeriod,
    report_type: REPORT_TYPE_OF[type],
  };
  if (k.transmissionRisk !== null) key.transmission_risk_level = k.transmissionRisk;
  if (onset !== null) key.days_since_onset_of_symptoms = onset;
  return key;
}

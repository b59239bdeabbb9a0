import { KeyObject } from "crypto";
import * as v8 from "v8";
import * as vm from "vm";
import { pageUnits } from "../../../firmware/src/protocol/log-mac";
import {
  decodeSegmentHeader,
  ExportSegment,
  RECORD_ID_BYTES,
  RSSI_BASE_DBM,
  UNIT_HEADER_MIN,
} from "../../../firmware/src/protocol/record";
import { recordTime } from "../../../firmware/src/protocol/sync";
import { AuthorityClient } from "./authority-client";
import {
  DayExposure,
  diagnosisKeysOf,
  exposureWindows,
  ExposureWindowConfig,
  MatchLog,
  matchExposures,
  openExport,
  Sighting,
  SightingMatch,
  verificationKeyFromPem,
} from "./exposure";
import { KioskStore, StoredKey } from "./store";

/** Band logs matched at once (memory: ~2,200 sightings of a 14-day log each). */
export const LOG_CHUNK = 50;

let gcFn: (() => void) | undefined | null = null;

/**
 * A full garbage collection between chunks: V8 would otherwise let each chunk's sightings (garbage once matched)
 * pile up in the old generation to several hundred MB before collecting them (measured: 263 MB of heap for 500
 * logs, 56 MB live). Node exposes `gc` only with --expose-gc; the flag is set at run time and the function
 * taken from a fresh context.
 */
function collectGarbage(): void {
  if (gcFn === null) {
    try {
      v8.setFlagsFromString("--expose-gc");
      gcFn = vm.runInNewContext("gc") as () => void;
    } catch {
      gcFn = undefined;
    }
  }
  if (gcFn) gcFn();
}

/** A band's stored log as the matcher takes it, with the cursor of each sighting (its identity in the store). */
export function sightingsOf(store: KioskStore, bandId: string): { log: MatchLog; cursors: number[] } {
  const sightings: Sighting[] = [];
  const cursors: number[] = [];
  let seg: ExportSegment | undefined;
  let status: ReturnType<KioskStore["syncStatus"]>;
  const statuses = new Map<number, ReturnType<KioskStore["syncStatus"]>>();
  for (const page of store.pages(bandId)) {
    if (!statuses.has(page.syncId)) statuses.set(page.syncId, store.syncStatus(page.syncId));
    for (const u of pageUnits(page.body) ?? []) {
      const b = u.bytes;
      if (b[7] >= UNIT_HEADER_MIN) {
        const h = decodeSegmentHeader(b, 0);
        if (h.ok) {
          seg = { header: h.value, records: [] };
          // A monotonic segment is placed in time with the status of the sync that brought its header.
          status = statuses.get(page.syncId);
        }
        continue;
      }
      // decodeRecord without its copies: the id is a view of the page body (memory, at 10,000 logs).
      if (!seg) continue;
      sightings.push({
        kind: b[6] >> 7,
        id: b.subarray(0, RECORD_ID_BYTES),
        startUnix: recordTime(seg, (b[6] & 127) * 10, status ?? null),
        durationMinutes: (b[7] >> 5) * 4,
        rssiMean: RSSI_BASE_DBM + 2 * (b[7] & 31),
        aemTx: b[5],
      });
      cursors.push(u.cursor);
    }
  }
  return { log: { bandId, sightings }, cursors };
}

interface MatchDetail {
  source: "en" | "bluezone";
  sighting: { kind: number; id: string; startUnix: number; durationMinutes: number; rssiMean: number; aemTx: number };
  key: {
    tek: string;
    rollingStartIntervalNumber: number;
    rollingPeriod: number;
    transmissionRisk: number | null;
    reportType: StoredKey["reportType"];
    daysSinceOnset: number | null;
  } | null;
  rpiInterval: number | null;
  txPowerDbm: number | null;
  attenuationDb: number | null;
}

export interface CheckSummary {
  files: number;
  newKeys: number;
  storedKeys: number;
  bandsChecked: number;
  matches: number;
  /** Band-days whose exposure is new or grew: staff see them on the follow-up list. */
  newExposures: { bandId: string; day: string; risky: boolean }[];
  ms: number;
}

/**
 * The exposure check (docs/kiosk.md): downloads the authority's export files it has not processed, verifies each
 * against the export public key, and matches their keys against every stored band log in one pass; bands whose
 * logs grew since their last check are matched against every key the kiosk keeps (the files of the retention
 * period), so a contact published before a visit is found too. Exposure windows per band and day are rebuilt from
 * all of the band's matches and saved; a new or grown one puts the band on the follow-up list.
 */
export class ExposureChecker {
  private key: KeyObject | undefined;

  constructor(
    private store: KioskStore,
    private client: AuthorityClient,
    private config: ExposureWindowConfig,
    private now: () => number,
    private log: (l: string) => void,
    /** The export verification key (PEM) the deployment configured; without it, pinned at first use. */
    private keyPem?: string,
    /** The published Bluezone F0 ids (hex), read at each check; Bluezone records are matched against them. */
    private bluezoneF0?: () => string[],
  ) {}

  private async publicKey(): Promise<KeyObject> {
    if (this.key) return this.key;
    let pem = this.keyPem ?? this.store.getMeta("export.key");
    if (!pem) {
      const k = await this.client.signingKey();
      pem = k.export({ type: "spki", format: "pem" }).toString();
      this.store.setMeta("export.key", pem);
      this.log(
        "kiosk: no export key configured: pinned the authority's key at first use (give --export-key to configure it)",
      );
    }
    this.key = verificationKeyFromPem(pem);
    return this.key;
  }

  /** One check; `download: false` only checks new band logs against the keys already kept (no network). */
  async run(opts: { download?: boolean } = {}): Promise<CheckSummary> {
    const t0 = Date.now();
    const oldKeys = this.store.diagnosisKeys();
    const names =
      opts.download === false ? [] : (await this.client.exportIndex()).filter((n) => !this.store.exportSeen(n));
    const files: { name: string; keys: StoredKey[] }[] = [];
    if (names.length) {
      const key = await this.publicKey();
      for (const name of names) {
        const zip = await this.client.exportFile(name);
        const exp = await openExport(zip, key, { fileName: name });
        files.push({ name, keys: diagnosisKeysOf(exp) });
      }
    }
    const newKeys = files.flatMap((f) => f.keys);
    const f0 = this.bluezoneF0 ? this.bluezoneF0() : [];
    const summary: CheckSummary = {
      files: files.length,
      newKeys: newKeys.length,
      storedKeys: oldKeys.length,
      bandsChecked: 0,
      matches: 0,
      newExposures: [],
      ms: 0,
    };
    const found: { bandId: string; cursor: number; tek: string; detail: MatchDetail }[] = [];
    // Logs are loaded and matched LOG_CHUNK bands at a time, so memory stays bounded however many the kiosk keeps.
    const bands = this.store.bandsWithLogs();
    const checked: { bandId: string; cursor: number }[] = [];
    for (let i = 0; i < bands.length; i += LOG_CHUNK) {
      const logs = bands
        .slice(i, i + LOG_CHUNK)
        .map((b) => ({ bandId: b, ...sightingsOf(this.store, b), cursor: this.store.band(b)?.cursor ?? 0 }));
      const collect = (matches: SightingMatch[], set: typeof logs) => {
        for (const m of matches) {
          const l = set[m.logIndex];
          const s = m.sighting;
          found.push({
            bandId: l.bandId,
            cursor: l.cursors[m.sightingIndex],
            tek: m.key ? Buffer.from(m.key.tek).toString("hex") : "bluezone",
            detail: {
              source: m.source,
              sighting: {
                kind: s.kind,
                id: Buffer.from(s.id).toString("hex"),
                startUnix: s.startUnix as number,
                durationMinutes: s.durationMinutes,
                rssiMean: s.rssiMean,
                aemTx: s.aemTx,
              },
              key: m.key ? { ...m.key, tek: Buffer.from(m.key.tek).toString("hex") } : null,
              rpiInterval: m.rpiInterval,
              txPowerDbm: m.txPowerDbm,
              attenuationDb: m.attenuationDb,
            },
          });
        }
      };
      if (newKeys.length)
        collect(
          matchExposures(
            newKeys,
            logs.map((l) => l.log),
          ).matches,
          logs,
        );
      // The F0 list is small and may change at any time: every log is checked against it at every run.
      if (f0.length) {
        collect(
          matchExposures(
            [],
            logs.map((l) => l.log),
            { bluezoneF0Ids: f0 },
          ).matches,
          logs,
        );
      }
      const unchecked = logs.filter((l) => this.store.checkedCursor(l.bandId) < l.cursor);
      if (oldKeys.length && unchecked.length)
        collect(
          matchExposures(
            oldKeys,
            unchecked.map((l) => l.log),
          ).matches,
          unchecked,
        );
      summary.bandsChecked += newKeys.length ? logs.length : unchecked.length;
      for (const l of logs) checked.push({ bandId: l.bandId, cursor: l.cursor });
      if (bands.length > LOG_CHUNK) collectGarbage();
    }
    summary.matches = this.store.saveMatches(found);
    // Keys and "seen" are saved after the matching: a crash before this point repeats the files next time.
    for (const f of files) this.store.saveDiagnosisKeys(f.name, f.keys, this.now());
    for (const l of checked) this.store.setChecked(l.bandId, l.cursor);
    const touched = new Set(found.map((f) => f.bandId));
    const nowUnix = Math.floor(this.now() / 1000);
    for (const bandId of touched) {
      const matches = (this.store.matchesOf(bandId) as MatchDetail[]).map((d, i) => toMatch(bandId, d, i));
      for (const b of exposureWindows(matches, this.config, nowUnix)) {
        for (const day of b.exposures) {
          if (this.store.saveExposure(bandId, day.day, day, this.now()))
            summary.newExposures.push({ bandId, day: day.day, risky: day.risky });
        }
      }
    }
    summary.ms = Date.now() - t0;
    if (files.length || summary.newExposures.length) {
      this.log(
        `kiosk: exposure check: ${files.length} new export files (${newKeys.length} keys), ${summary.bandsChecked} band logs checked, ` +
          `${summary.newExposures.length} new exposure days, ${summary.ms} ms`,
      );
    }
    return summary;
  }
}

function toMatch(bandId: string, d: MatchDetail, i: number): SightingMatch {
  return {
    logIndex: 0,
    bandId,
    sightingIndex: i,
    sighting: { ...d.sighting, id: new Uint8Array(Buffer.from(d.sighting.id, "hex")) },
    source: d.source,
    key: d.key ? { ...d.key, tek: new Uint8Array(Buffer.from(d.key.tek, "hex")) } : null,
    keyIndex: null,
    rpiInterval: d.rpiInterval,
    txPowerDbm: d.txPowerDbm,
    attenuationDb: d.attenuationDb,
  };
}

export type { DayExposure };

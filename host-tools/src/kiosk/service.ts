import { EventEmitter } from "events";
import { encodeLogExportV3 } from "../../../firmware/src/protocol/log-mac";
import { BandStatus, STATUS_FLAG_LOW_BATTERY, STATUS_FLAG_TIME_VALID } from "../../../firmware/src/protocol/sync";
import { bandView, statusNames } from "./api";
import { AuthorityClient } from "./authority-client";
import { EngineOptions, Progress, SyncEngine, SyncResult } from "./engine";
import { UploadOutcome, UploadQueue } from "./uploads";
import { CheckSummary, ExposureChecker } from "./exposure-check";
import { DEFAULT_EXPOSURE_WINDOW_CONFIG, ExposureWindowConfig } from "./exposure";
import { KioskClock, KioskRadio } from "./radio";
import { KioskStore, RegistryEntry } from "./store";

/** A band heard this recently is still in range (it advertises for discovery about every half minute). */
export const IN_RANGE_MS = 45_000;

/** A registry band (hex, as the registry file and the authority give it) as the store keeps it. */
export function registryEntry(b: { bandId: string; board: string; syncKey: string }): RegistryEntry {
  return { bandId: b.bandId.toLowerCase(), board: b.board, syncKey: new Uint8Array(Buffer.from(b.syncKey, "hex")) };
}

export interface KioskServiceOptions {
  /** Where the store (kiosk.db) and the kiosk key (kiosk.key) live. */
  dataDir: string;
  radio: KioskRadio;
  clock: KioskClock;
  /** Registry entries to load at start (from a registry file): replace those of the same source. */
  registry?: { source: string; entries: RegistryEntry[] };
  /** The health authority: band registry, exports, positive uploads (kiosk API key). Without it the kiosk works offline. */
  authority?: { url: string; apiKey: string; fetch?: typeof fetch };
  /** Upload a positive band's log with its keys (default true; the authority stores it, and resolves F1s in escrow). */
  uploadLogs?: boolean;
  /** Exposure scoring (defaults: the Corona-Warn-App configuration) and the export verification key (PEM). */
  exposure?: {
    config?: ExposureWindowConfig;
    exportKeyPem?: string;
    everyMs?: number;
    /** The published Bluezone F0 ids (hex, at least 6 bytes each), read at every check. */
    bluezoneF0?: () => string[];
  };
  /** Days a stored log is kept (default 21: a band keeps at most 21 days). */
  retentionDays?: number;
  engine?: EngineOptions;
  /** Logs one line (stderr in the CLI). Never given secrets. */
  log?: (line: string) => void;
}

/**
 * The kiosk service: the sync engine, its store, and the periodic duties (retention purge; registry refresh,
 * exposure check and upload queue when an authority is configured). `start()` then `stop()`; stop finishes the
 * syncs in flight (each commits what it read before its link ends) and closes the store.
 */
export class KioskService {
  readonly store: KioskStore;
  readonly engine: SyncEngine;
  readonly client: AuthorityClient | undefined;
  readonly uploads: UploadQueue | undefined;
  readonly checker: ExposureChecker | undefined;
  lastCheck: { at: number; summary?: CheckSummary; error?: string } | null = null;
  /** "checked" (lastCheck) after every exposure check: the page fetches the results it shows again. */
  readonly events = new EventEmitter();
  private checking: Promise<void> | undefined;
  private stopped = false;
  private loops: Promise<void>[] = [];
  readonly log: (line: string) => void;
  /** The authority's registry: when it last answered, and the `asOf` to ask for changes since. */
  registrySync: { at: number | null; asOf: string | null; error: string | null } = {
    at: null,
    asOf: null,
    error: null,
  };

  constructor(readonly opts: KioskServiceOptions) {
    this.log = opts.log ?? (() => undefined);
    this.store = new KioskStore(opts.dataDir);
    if (opts.registry) this.store.setRegistry(opts.registry.entries, opts.registry.source, opts.clock.now());
    this.engine = new SyncEngine(opts.radio, this.store, opts.clock, opts.engine);
    if (opts.authority) {
      this.client = new AuthorityClient(opts.authority.url, opts.authority.apiKey, { fetch: opts.authority.fetch });
      this.uploads = new UploadQueue(this.store, this.client, () => opts.clock.now(), this.log);
      this.checker = new ExposureChecker(
        this.store,
        this.client,
        opts.exposure?.config ?? DEFAULT_EXPOSURE_WINDOW_CONFIG,
        () => opts.clock.now(),
        this.log,
        opts.exposure?.exportKeyPem,
        opts.exposure?.bluezoneF0,
      );
      // A band just synced is checked against the keys the kiosk keeps at once, for its result card; its health
      // goes to the authority's band registry.
      this.engine.on("synced", (r: SyncResult) => {
        if (r.ok && r.units > 0) void this.checkExposures(false);
        if (r.ok && r.status) void this.reportHealth(r.bandId, r.status);
      });
    }
    this.engine.on("progress", (p: Progress) => {
      if (p.state === "found" || p.state === "failed") {
        this.log(`kiosk: band ${p.bandId} ${p.state}${p.message ? ": " + p.message : ""}`);
      }
    });
    this.engine.on("synced", (r: SyncResult) => {
      if (r.ok)
        this.log(
          `kiosk: band ${r.bandId} synced: ${r.units} units in ${r.pages} pages, ${r.ms} ms${r.clockSet ? ", clock set" : ""}`,
        );
    });
    this.engine.on("fault", (m: string) => this.log(`kiosk: fault in the sync engine (counted): ${m}`));
  }

  /**
   * Sends a synced band's health (its STATUS frame) to the authority's band registry. Its counters are totals
   * since provisioning, so a report that does not get through (offline) is made good by the band's next sync's:
   * nothing is queued, and a failure is logged.
   */
  async reportHealth(bandId: string, status: BandStatus): Promise<boolean> {
    const client = this.client as AuthorityClient;
    const names = statusNames(status, this.engine.boardOf(bandId));
    try {
      const known = await client.reportBandHealth(bandId, {
        syncedAt: new Date(this.opts.clock.now()).toISOString(),
        firmware: status.firmwareVersion,
        board: names.board,
        batteryPercent: Math.min(100, status.batteryPercent),
        lowBattery: Boolean(status.flags & STATUS_FLAG_LOW_BATTERY),
        timeValid: Boolean(status.flags & STATUS_FLAG_TIME_VALID),
        faults: status.faults,
        lastFaultDuty: names.lastFaultDuty,
        resets: status.resets,
      });
      if (!known) this.log(`kiosk: band ${bandId} health not recorded: the authority's registry has no such band`);
      return known;
    } catch (e) {
      this.log(`kiosk: band ${bandId} health not reported (the next sync reports it): ${(e as Error).message}`);
      return false;
    }
  }

  async start(): Promise<void> {
    await this.engine.start();
    this.log(`kiosk: scanning for ${this.engine.registered} registered bands`);
    this.every(3600_000, "retention purge", () => this.purge());
    if (this.client) {
      this.every(10 * 60_000, "registry refresh", () => this.refreshRegistry());
      this.every(30_000, "upload queue", async () => {
        await this.uploads?.run();
      });
      this.every(this.opts.exposure?.everyMs ?? 10 * 60_000, "exposure check", () => this.checkExposures(true));
    }
  }

  /**
   * Fetches the bands this kiosk may sync from the authority: everything the first time (entries from the
   * authority that it no longer lists are removed), then the changes since the last answer. Offline, the stored
   * copy stays in use.
   */
  async refreshRegistry(): Promise<void> {
    const client = this.client as AuthorityClient;
    try {
      const since = this.registrySync.asOf ?? this.store.getMeta("registry.asOf") ?? undefined;
      const r = await client.bands(since);
      const entries = r.bands.map(registryEntry);
      if (!since) {
        const keep = new Set(entries.map((e) => e.bandId));
        this.store.removeFromRegistry(
          this.store
            .registry()
            .map((e) => e.bandId)
            .filter((b) => !keep.has(b)),
        );
      }
      this.store.setRegistry(entries, "authority", this.opts.clock.now());
      this.store.removeFromRegistry(r.deleted);
      this.store.setMeta("registry.asOf", r.asOf);
      this.registrySync = { at: this.opts.clock.now(), asOf: r.asOf, error: null };
      this.engine.reloadRegistry();
      if (entries.length || r.deleted.length) {
        this.log(`kiosk: registry from the authority: ${entries.length} bands updated, ${r.deleted.length} removed`);
      }
    } catch (e) {
      this.registrySync.error = (e as Error).message;
      throw e;
    }
  }

  /** Runs an exposure check (one at a time; a call while one runs waits for it and then runs). */
  async checkExposures(download = true): Promise<void> {
    const checker = this.checker;
    if (!checker) throw new Error("this kiosk has no authority configured: no diagnosis keys to check against");
    while (this.checking) await this.checking;
    const run = checker.run({ download }).then(
      (summary) => {
        this.lastCheck = { at: this.opts.clock.now(), summary };
        // The authority's export index was read: every key it publishes is known, even when it publishes none.
        if (download) this.store.setMeta("exposure.indexReadAt", String(this.lastCheck.at));
      },
      (e: Error) => {
        this.lastCheck = { at: this.opts.clock.now(), error: e.message };
        this.log(`kiosk: exposure check failed (will retry): ${e.message}`);
      },
    );
    this.checking = run;
    await run;
    this.checking = undefined;
    this.events.emit("checked", this.lastCheck);
  }

  /**
   * The result for a band's wearer: exposures found in its stored log (risky days first), and when it was last
   * checked. `checked` is false until its log has been checked against the kiosk's keys, and until the kiosk has
   * read the authority's export index at least once (before that it cannot know what was published). A band with
   * no stored log (it met nobody) has nothing to check.
   */
  result(bandId: string): { checked: boolean; exposures: { day: string; risky: boolean; detail: unknown }[] } {
    const row = this.store.band(bandId);
    const checked =
      !!row &&
      (this.store.checkedCursor(bandId) >= row.cursor || !this.store.hasLog(bandId)) &&
      (this.store.getMeta("export.key") !== undefined || this.store.getMeta("exposure.indexReadAt") !== undefined);
    const exposures = this.store
      .exposures(bandId)
      .map((e) => ({ day: e.day, risky: !!(e.detail as { risky?: boolean }).risky, detail: e.detail }))
      .sort((a, b) => Number(b.risky) - Number(a.risky) || b.day.localeCompare(a.day));
    return { checked, exposures };
  }

  /**
   * The clinic's follow-up list: bands with exposures staff have not seen yet, and bands that need attention
   * (low battery, clock trouble, a full log, faults, failing syncs).
   */
  followUp(): { bandId: string; reasons: string[]; newExposureDays: string[] }[] {
    const out: { bandId: string; reasons: string[]; newExposureDays: string[] }[] = [];
    const unseen = new Map<string, string[]>();
    for (const e of this.store.exposures()) {
      if (!e.seenByStaff && (e.detail as { risky?: boolean }).risky)
        unseen.set(e.bandId, [...(unseen.get(e.bandId) ?? []), e.day]);
    }
    for (const row of this.store.bands()) {
      const reasons = bandView(row, this.engine.boardOf(row.bandId)).attention;
      const days = unseen.get(row.bandId) ?? [];
      if (days.length) reasons.unshift("possible exposure");
      if (reasons.length) out.push({ bandId: row.bandId, reasons, newExposureDays: days });
    }
    return out;
  }

  /**
   * The tested-positive flow for a band in range: sync it (so its log is complete), read its keys, queue the
   * publish (and the log upload), and try it at once. The answer says what was or will be sent.
   */
  async positive(
    bandId: string,
    code: string,
  ): Promise<{ keys: number; days: string[]; logPages: number; logBytes: number; upload: UploadOutcome | null }> {
    if (!this.uploads) throw new Error("this kiosk has no authority configured: positive results cannot be published");
    if (!/^[0-9]{6,16}$/.test(code)) throw new Error("the verification code is 6 to 16 digits");
    const sync = await this.engine.syncNow(bandId);
    if (!sync.ok) throw new Error(`the band did not sync: ${sync.error}`);
    const teks = await this.engine.readTeks(bandId);
    if (!teks.length) throw new Error("the band has no keys to publish (its clock was never set)");
    const pages = this.store.pages(bandId);
    const tlx =
      this.opts.uploadLogs === false || !pages.length
        ? undefined
        : encodeLogExportV3({ bandId: new Uint8Array(Buffer.from(bandId, "hex")), pages });
    const id = this.uploads.enqueue(bandId, {
      step: "verify",
      code,
      teks: teks.map((t) => ({
        key: Buffer.from(t.tek).toString("base64"),
        rollingStartNumber: t.rollingStartNumber,
        rollingPeriod: t.rollingPeriod,
      })),
      tlx: tlx ? Buffer.from(tlx).toString("base64") : undefined,
    });
    const [upload] = await this.uploads.run(id);
    return {
      keys: teks.length,
      days: teks.map((t) => new Date(t.rollingStartNumber * 600_000).toISOString().slice(0, 10)),
      logPages: tlx ? pages.length : 0,
      logBytes: tlx ? tlx.length : 0,
      upload: upload ?? null,
    };
  }

  /** Runs `fn` every `ms` of the kiosk's clock until stop; a failure is logged and the duty keeps running. */
  private every(ms: number, what: string, fn: () => Promise<void> | void): void {
    const loop = async () => {
      while (!this.stopped) {
        try {
          await fn();
        } catch (e) {
          this.log(`kiosk: ${what} failed (will retry): ${(e as Error).message}`);
        }
        await this.opts.clock.sleep(ms);
      }
    };
    this.loops.push(loop());
  }

  /** What the kiosk is doing now: the queue of bands in range and its own health. */
  state(): {
    registered: number;
    links: { active: number; max: number };
    queue: (Progress & { inRange: boolean })[];
    faults: number;
    lastFault: string | null;
    bandsStored: number;
    authority: { configured: boolean; reachable: boolean | null; lastError: string | null; pendingUploads: number };
  } {
    return {
      registered: this.engine.registered,
      links: { active: this.engine.active, max: this.engine.opts.links },
      queue: [...this.engine.progress.values()]
        .sort((a, b) => b.at - a.at)
        .map((p) => ({ ...p, inRange: this.engine.inRange(p.bandId, IN_RANGE_MS) })),
      faults: this.engine.faults,
      lastFault: this.engine.lastFault ?? null,
      bandsStored: this.store.bandsWithLogs().length,
      authority: {
        configured: !!this.client,
        reachable: this.uploads
          ? this.registrySync.error
            ? false
            : (this.uploads.reachable ?? (this.registrySync.at !== null ? true : null))
          : null,
        lastError: this.registrySync.error ?? this.uploads?.lastError ?? null,
        pendingUploads: this.uploads ? this.uploads.pending().length : 0,
      },
    };
  }

  purge(): void {
    const n = this.store.purge(this.opts.clock.now(), this.opts.retentionDays ?? 21);
    if (n.pages || n.exposures)
      this.log(`kiosk: retention purge removed ${n.pages} pages, ${n.exposures} exposure days`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.engine.stop();
    this.opts.radio.stop();
    this.store.close();
  }
}

import { slowestSyncRequest } from "../sim/cpu-cost";
import { EventEmitter } from "events";
import {
  BandStatus,
  decodeDiscoveryServiceData,
  matchDiscovery,
  STATUS_FLAG_LOG_DROPPED_UNSYNCED,
  STATUS_FLAG_TIME_VALID,
  TekEntry,
} from "../../../firmware/src/protocol/sync";
import { LogPage } from "../../../firmware/src/protocol/log-mac";
import { nodePrims } from "../crypto/native";
import { Advert, BandLink, KioskClock, KioskRadio, SYNC_SERVICE_ID } from "./radio";
import { BandSession, SessionError } from "./session";
import { KioskStore, RegistryEntry } from "./store";

/** The first firmware version whose log is in format 3 (8-byte units, docs/protocol.md section 5.1). */
export const LOG_FORMAT_3_FIRMWARE = 3;

export interface EngineOptions {
  /** Links at once (default 3). */
  links?: number;
  /** A band synced successfully is left alone this long (it stays in range while its wearer waits). */
  resyncAfterMs?: number;
  /** Set the band's clock when it is not valid or off by more than this (default 2 s). */
  maxClockErrorS?: number;
  /** Pages stored (and then ACKed) per transaction. */
  pagesPerCommit?: number;
  /** Give up one attempt after this long (connect to last ACK); the next attempt resumes. */
  attemptMs?: number;
  connectMs?: number;
  replyMs?: number;
  /** Back-off after failures: min(base x 2^(failures-1), max). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /**
   * Bands heard weaker than this (dBm) are left alone until they come closer: a link at the edge of range fails
   * more than it syncs (default -90).
   */
  minRssi?: number;
  /** Sync only this band (`tracelet sync <band>`); the others are recognised and left alone. */
  only?: string;
}

export type BandState =
  | "found"
  | "waiting"
  | "connecting"
  | "authenticating"
  | "syncing"
  | "done"
  | "failed"
  /** Walked away before its turn (no advert for LEFT_MS). */
  | "left";

/** The link's share of a reply wait, ms (SyncEngineOptions.replyMs by default). */
export const DEFAULT_REPLY_MS = 5_000;

/**
 * How long the kiosk waits for a reply from a band of `board`: `replyMs` for the link, plus twice the dearest
 * request the board's firmware handles (the pessimistic end of the measured CPU time, JavaScript at half the
 * expected speed; sim/cpu-cost.ts). Boards whose HMAC runs in JavaScript take 7.5-10.5 s over a READ page
 * (Pixl.js, puckjs-minimal): a flat 5 s would time out every page on a real band.
 */
export function replyBudgetMs(replyMs: number, board: string): number {
  return replyMs + Math.ceil(2 * slowestSyncRequest(board) * 1000);
}

/** A waiting band heard this recently is connectable now (its discovery burst lasts 250 ms, ms of margin). */
const FRESH_MS = 400;
/** A waiting band not heard for this long has left. */
const LEFT_MS = 30_000;

export interface Progress {
  bandId: string;
  board: string;
  state: BandState;
  /** 0-100 while syncing. */
  percent: number;
  /** Units read in this attempt (stored once their page is committed). */
  units: number;
  message?: string;
  at: number;
}

export interface SyncResult {
  bandId: string;
  ok: boolean;
  /** Units committed to the store (and ACKed) in this attempt: a failed attempt keeps what it committed. */
  units: number;
  pages: number;
  cursor: number;
  acked: number;
  status?: BandStatus;
  clockSet: boolean;
  ms: number;
  error?: string;
}

const DEFAULTS: Required<Omit<EngineOptions, "only">> & { only?: string } = {
  links: 3,
  resyncAfterMs: 10 * 60_000,
  maxClockErrorS: 2,
  pagesPerCommit: 4,
  attemptMs: 120_000,
  connectMs: 10_000,
  replyMs: DEFAULT_REPLY_MS,
  backoffBaseMs: 5_000,
  backoffMaxMs: 10 * 60_000,
  minRssi: -90,
};

/**
 * The sync engine: recognises registered bands by their discovery adverts, syncs up to `links` of them at once,
 * and stores every page before it ACKs it (docs/kiosk.md). Events: "progress" (Progress) and "synced"
 * (SyncResult). Nothing it does throws out of a radio callback: a failed attempt is recorded on the band (its
 * reason, and a back-off) and the engine carries on.
 */
export class SyncEngine extends EventEmitter {
  readonly opts: Required<Omit<EngineOptions, "only">> & { only?: string };
  private registry: RegistryEntry[] = [];
  private keys: Uint8Array[] = [];
  /** Discovery nonce+token (hex) -> registry index (-1: not ours): one HMAC per key per new nonce. */
  private matches = new Map<string, number>();
  /** Band id -> the noble id it was last seen at, and when. */
  private lastAdvert = new Map<string, { id: string; at: number }>();
  private advertWaiters = new Map<string, (() => void)[]>();
  private running = new Map<string, Promise<SyncResult>>();
  private waiting: string[] = [];
  private stopped = false;
  readonly progress = new Map<string, Progress>();
  /** Faults in the engine's own callbacks (counted and reported, never thrown into the radio). */
  faults = 0;
  lastFault: string | undefined;

  constructor(
    readonly radio: KioskRadio,
    readonly store: KioskStore,
    readonly clock: KioskClock,
    opts: EngineOptions = {},
  ) {
    super();
    this.opts = { ...DEFAULTS, ...opts };
    this.reloadRegistry();
  }

  /** Re-reads the registry from the store (after a refresh from the authority or a file). */
  reloadRegistry(): void {
    this.registry = this.store.registry();
    this.keys = this.registry.map((r) => r.syncKey);
    this.matches.clear();
  }

  boardOf(bandId: string): string {
    return this.registry.find((r) => r.bandId === bandId)?.board ?? "unknown";
  }

  get active(): number {
    return this.running.size;
  }

  get registered(): number {
    return this.registry.length;
  }

  async start(): Promise<void> {
    await this.radio.start();
    await this.radio.scan((a) => {
      try {
        this.onAdvert(a);
      } catch (e) {
        this.fault(e);
      }
    });
  }

  private fault(e: unknown): void {
    this.faults++;
    this.lastFault = (e as Error).message;
    this.emit("fault", this.lastFault);
  }

  /** Which registered band sent this advert, if any. */
  recognise(a: Advert): RegistryEntry | undefined {
    if (!a.connectable) return undefined;
    const sd = a.serviceData.find((s) => s.uuid === SYNC_SERVICE_ID);
    if (!sd) return undefined;
    const k = sd.data.toString("hex");
    let i = this.matches.get(k);
    if (i === undefined) {
      const d = decodeDiscoveryServiceData(new Uint8Array(sd.data));
      i = d.ok ? matchDiscovery(nodePrims, this.keys, d.value) : -1;
      if (this.matches.size > 10_000) this.matches.clear();
      this.matches.set(k, i);
    }
    return i >= 0 ? this.registry[i] : undefined;
  }

  private onAdvert(a: Advert): void {
    if (this.stopped) return;
    if (a.rssi < this.opts.minRssi) return;
    const r = this.recognise(a);
    if (!r) return;
    const now = this.clock.now();
    this.lastAdvert.set(r.bandId, { id: a.id, at: now });
    const waiters = this.advertWaiters.get(r.bandId);
    if (waiters) {
      this.advertWaiters.delete(r.bandId);
      for (const w of waiters) w();
    }
    if (this.running.has(r.bandId)) return;
    if (this.waiting.includes(r.bandId)) {
      // Its discovery burst is on air now: the moment to connect, if a link is free.
      this.pump(r.bandId);
      return;
    }
    if (this.opts.only !== undefined && r.bandId !== this.opts.only) return;
    const row = this.store.band(r.bandId);
    if (row && row.nextTryAt > now) return;
    if (row && row.lastSyncAt !== null && now - row.lastSyncAt < this.opts.resyncAfterMs && row.failures === 0) return;
    this.store.seen(r.bandId, now);
    this.waiting.push(r.bandId);
    this.report(r, "found", 0, 0);
    this.pump(r.bandId);
  }

  /**
   * Starts syncs while links are free. A band is connectable only during its discovery bursts, so a waiting band
   * starts when its advert has just been heard (`fresh`, or any waiting band heard within FRESH_MS); bands not
   * heard for LEFT_MS have walked away and leave the queue.
   */
  private pump(fresh?: string): void {
    const now = this.clock.now();
    for (const bandId of this.waiting.slice()) {
      const seen = this.lastAdvert.get(bandId);
      if (seen && now - seen.at > LEFT_MS) {
        this.waiting = this.waiting.filter((b) => b !== bandId);
        const entry = this.registry.find((r) => r.bandId === bandId);
        if (entry) this.report(entry, "left", 0, 0, "out of range before its turn");
      }
    }
    while (!this.stopped && this.running.size < this.opts.links) {
      const bandId =
        fresh !== undefined && this.waiting.includes(fresh)
          ? fresh
          : this.waiting.find((b) => now - (this.lastAdvert.get(b)?.at ?? -Infinity) <= FRESH_MS);
      if (bandId === undefined) return;
      fresh = undefined;
      this.waiting = this.waiting.filter((b) => b !== bandId);
      const entry = this.registry.find((r) => r.bandId === bandId);
      if (!entry) continue;
      const p = this.syncBand(entry).finally(() => {
        this.running.delete(bandId);
        this.pump();
      });
      this.running.set(bandId, p);
    }
  }

  private report(r: RegistryEntry, state: BandState, percent: number, units: number, message?: string): void {
    const p: Progress = { bandId: r.bandId, board: r.board, state, percent, units, message, at: this.clock.now() };
    this.progress.set(r.bandId, p);
    this.emit("progress", p);
  }

  /** Syncs one band now (it must have been seen by the scan). Never throws: the result says what happened. */
  async syncBand(entry: RegistryEntry): Promise<SyncResult> {
    const t0 = this.clock.now();
    const result: SyncResult = {
      bandId: entry.bandId,
      ok: false,
      units: 0,
      pages: 0,
      cursor: 0,
      acked: 0,
      clockSet: false,
      ms: 0,
    };
    let session: BandSession | undefined;
    try {
      session = await this.open(entry);
      await this.pull(entry, session, result, t0);
      result.ok = true;
      this.report(entry, "done", 100, result.units);
    } catch (e) {
      result.error = (e as Error).message;
      const failures = (this.store.band(entry.bandId)?.failures ?? 0) + 1;
      const wait = Math.min(this.opts.backoffBaseMs * 2 ** (failures - 1), this.opts.backoffMaxMs);
      this.store.failed(entry.bandId, result.error, this.clock.now() + wait);
      this.report(entry, "failed", 0, result.units, result.error);
    } finally {
      if (session) await session.close();
      result.ms = this.clock.now() - t0;
      this.emit("synced", result);
    }
    return result;
  }

  /**
   * Waits for the band's next discovery advert (a band is connectable only during its discovery bursts, about
   * every half minute); false when none came within `ms`.
   */
  private async nextAdvert(bandId: string, ms: number): Promise<boolean> {
    let seen = false;
    const got = new Promise<void>((resolve) => {
      const list = this.advertWaiters.get(bandId) ?? [];
      list.push(() => {
        seen = true;
        resolve();
      });
      this.advertWaiters.set(bandId, list);
    });
    await Promise.race([got, this.clock.sleep(ms)]);
    return seen;
  }

  /**
   * Connects and authenticates to a registered band seen by the scan. A band takes connections only while its
   * discovery advert is on air: when an attempt fails, the next one waits for its next advert (45 s at most).
   */
  async open(entry: RegistryEntry): Promise<BandSession> {
    let link: BandLink | undefined;
    for (let attempt = 1; !link; attempt++) {
      const last = this.lastAdvert.get(entry.bandId);
      if (attempt > 1 || !last || this.clock.now() - last.at > 1500) {
        this.report(entry, "waiting", 0, 0, "waiting for the band's next advert");
        if (!(await this.nextAdvert(entry.bandId, 45_000)))
          throw new SessionError("band not in range (no advert for 45 s)");
      }
      const seen = this.lastAdvert.get(entry.bandId) as { id: string; at: number };
      this.report(entry, "connecting", 0, 0);
      try {
        link = await this.radio.connect(seen.id, this.opts.connectMs);
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
    const session = new BandSession(link, entry.syncKey, this.clock, replyBudgetMs(this.opts.replyMs, entry.board));
    try {
      this.report(entry, "authenticating", 0, 0);
      await session.authenticate();
    } catch (e) {
      await session.close();
      throw e;
    }
    return session;
  }

  private async pull(entry: RegistryEntry, s: BandSession, result: SyncResult, t0: number): Promise<void> {
    const bandId = entry.bandId;
    const idBytes = Buffer.from(bandId, "hex");
    let status = await s.status();
    const kioskS = Math.floor(this.clock.now() / 1000);
    const valid = (status.flags & STATUS_FLAG_TIME_VALID) !== 0;
    let clock: { errorS: number | null; driftPpm: number | null } = {
      errorS: valid ? status.bandTime - kioskS : null,
      driftPpm: status.driftPpm,
    };
    if (!valid || Math.abs(status.bandTime - kioskS) > this.opts.maxClockErrorS) {
      const t = await s.setTime(Math.floor(this.clock.now() / 1000));
      clock = { errorS: t.errorSeconds, driftPpm: t.driftPpm };
      result.clockSet = true;
      status = await s.status();
    }
    result.status = status;
    if (status.firmwareVersion < LOG_FORMAT_3_FIRMWARE) {
      // Its log is in format 2 (12-byte units): reading it as format 3 would store garbage. Nothing is ACKed.
      throw new SessionError(
        `band runs firmware ${status.firmwareVersion}, whose log this kiosk cannot read: upgrade it with ` +
          "`tracelet flash --upgrade` (its unsynced records are carried over), then sync again",
      );
    }
    const row = this.store.band(bandId);
    let cursor = row ? row.cursor : 0;
    // The band freed units the kiosk never stored (retention, or a full log): start at its oldest, and say so.
    const dropped = cursor < status.logStart && (cursor > 0 || (status.flags & STATUS_FLAG_LOG_DROPPED_UNSYNCED) !== 0);
    if (cursor > status.logEnd) {
      throw new SessionError(
        `band's log ends at ${status.logEnd}, before the ${cursor} this kiosk stored: was it wiped or reflashed? Re-register it`,
      );
    }
    if (cursor < status.logStart) cursor = status.logStart;
    const syncId = this.store.beginSync(bandId, this.clock.now(), status, clock, dropped);
    // Units before the band's log start no longer exist: the stored cursor moves there before anything is ACKed.
    if (!row || cursor > row.cursor) this.store.storePages(bandId, syncId, cursor, [], this.clock.now());
    const startCursor = cursor;
    const total = Math.max(1, status.logEnd - startCursor);
    let batch: { start: number; page: LogPage; units: number }[] = [];
    let batchFrom = cursor;
    let retries = 0;
    let read = 0;
    const commit = async () => {
      if (!batch.length) return;
      const stored = this.store.storePages(bandId, syncId, batchFrom, batch, this.clock.now());
      result.pages += batch.filter((b) => b.units > 0).length;
      result.units += batch.reduce((n, b) => n + b.units, 0);
      batch = [];
      batchFrom = stored;
      result.cursor = stored;
      result.acked = await s.ack(stored);
      this.store.acked(bandId, result.acked, this.clock.now());
    };
    this.report(entry, "syncing", 0, 0);
    while (cursor < status.logEnd) {
      if (this.clock.now() - t0 > this.opts.attemptMs)
        throw new SessionError(`sync took longer than ${this.opts.attemptMs} ms`);
      const got = await s.readPage(cursor, idBytes);
      if (!got) {
        if (++retries > 5) throw new SessionError("pages kept arriving incomplete: the radio link is too poor");
        continue;
      }
      if (got.page.next <= cursor) break;
      batch.push({ start: cursor, page: got.page, units: got.units });
      read += got.units;
      cursor = got.page.next;
      // After failed attempts every page is committed (and ACKed) on its own: a poor link keeps what it got.
      if (batch.length >= (row && row.failures > 0 ? 1 : this.opts.pagesPerCommit)) await commit();
      this.report(entry, "syncing", Math.min(99, Math.round(((cursor - startCursor) / total) * 100)), read);
    }
    await commit();
    result.cursor = cursor;
    if (!result.acked) {
      // Nothing new: still ACK the stored cursor, so a band whose last ACK was lost learns it.
      result.acked = await s.ack(cursor);
      this.store.acked(bandId, result.acked, this.clock.now());
    }
  }

  /** Syncs a band now whatever its back-off (it must be in range): waits for a sync already running. */
  async syncNow(bandId: string): Promise<SyncResult> {
    const running = this.running.get(bandId);
    if (running) await running;
    const entry = this.registry.find((r) => r.bandId === bandId);
    if (!entry) throw new SessionError(`band ${bandId} is not in this kiosk's registry`);
    this.waiting = this.waiting.filter((b) => b !== bandId);
    const p = this.syncBand(entry).finally(() => {
      this.running.delete(bandId);
      this.pump();
    });
    this.running.set(bandId, p);
    return p;
  }

  /** Reads a band's TEKs (tested-positive flow): sets its clock first when it has none. */
  async readTeks(bandId: string): Promise<TekEntry[]> {
    const entry = this.registry.find((r) => r.bandId === bandId);
    if (!entry) throw new SessionError(`band ${bandId} is not in this kiosk's registry`);
    // The band's card on the page shows this session too; it ends as the sync before it did, or failed.
    const units = this.progress.get(bandId)?.units ?? 0;
    let s: BandSession | undefined;
    try {
      s = await this.open(entry);
      const status = await s.status();
      if (!(status.flags & STATUS_FLAG_TIME_VALID)) await s.setTime(Math.floor(this.clock.now() / 1000));
      const teks = await s.readTeks();
      this.report(entry, "done", 100, units);
      return teks;
    } catch (e) {
      this.report(entry, "failed", 0, units, (e as Error).message);
      throw e;
    } finally {
      if (s) await s.close();
    }
  }

  /** In range: seen by the scan within `withinMs`. */
  inRange(bandId: string, withinMs = 60_000): boolean {
    const a = this.lastAdvert.get(bandId);
    return !!a && this.clock.now() - a.at <= withinMs;
  }

  /** Stops scanning and waits for the syncs in flight (each commits what it has before it ends). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting = [];
    await this.radio.stopScan().catch(() => undefined);
    await Promise.allSettled([...this.running.values()]);
  }

  idle(): boolean {
    return this.running.size === 0 && this.waiting.length === 0;
  }
}

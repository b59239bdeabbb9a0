import { EngineOptions, Progress, SyncEngine, SyncResult } from "./engine";
import { KioskClock, KioskRadio } from "./radio";
import { KioskStore, RegistryEntry } from "./store";

export interface KioskServiceOptions {
  /** Where the store (kiosk.db) and the kiosk key (kiosk.key) live. */
  dataDir: string;
  radio: KioskRadio;
  clock: KioskClock;
  /** Registry entries to load at start (from a registry file): replace those of the same source. */
  registry?: { source: string; entries: RegistryEntry[] };
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
  private stopped = false;
  private loops: Promise<void>[] = [];
  readonly log: (line: string) => void;

  constructor(readonly opts: KioskServiceOptions) {
    this.log = opts.log ?? (() => undefined);
    this.store = new KioskStore(opts.dataDir);
    if (opts.registry) this.store.setRegistry(opts.registry.entries, opts.registry.source, opts.clock.now());
    this.engine = new SyncEngine(opts.radio, this.store, opts.clock, opts.engine);
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

  async start(): Promise<void> {
    await this.engine.start();
    this.log(`kiosk: scanning for ${this.engine.registered} registered bands`);
    this.every(3600_000, "retention purge", () => this.purge());
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
    queue: Progress[];
    faults: number;
    lastFault: string | null;
    bandsStored: number;
  } {
    return {
      registered: this.engine.registered,
      links: { active: this.engine.active, max: this.engine.opts.links },
      queue: [...this.engine.progress.values()].sort((a, b) => b.at - a.at),
      faults: this.engine.faults,
      lastFault: this.engine.lastFault ?? null,
      bandsStored: this.store.bandsWithLogs().length,
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

import { timingSafeEqual } from "crypto";
import { z } from "zod";
import { listBoardIds } from "../boards/load";
import { AuthorityConfig } from "./config";
import { Actor } from "./crypto/api-keys";
import { open, seal } from "./crypto/secret-box";
import { isoTime } from "./dates";
import { HttpError } from "./http/errors";
import { AuthorityStore, BandRow } from "./store/store";

/**
 * The band registry, filled by the flasher when it provisions a band. Each band's sync key (the 16-byte key
 * kiosks sync it with) is sealed under the sync-key subkey, and in escrow deployments its escrow secret under
 * the escrow subkey (AES-256-GCM, bound to the band id), before either touches the database; in private
 * deployments the registry refuses escrow secrets it has no use for. Kiosks read the sync keys back
 * (listForKiosk); nothing else ever returns a sync key or a secret.
 */
const Hex16Bytes = z.string().regex(/^[0-9a-fA-F]{32}$/, "must be 32 hex digits (16 bytes)");

export const RegisterBandRequest = z.object({
  bandId: z.string().regex(/^[0-9a-fA-F]{16}$/, "must be 16 hex digits (8 bytes)"),
  board: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "must be a board id such as puckjs"),
  escrowSecret: Hex16Bytes.optional(),
  /** The band's sync key (provisioning record). Required from the flasher; admin registrations may omit it. */
  syncKey: Hex16Bytes.optional(),
  /** Re-provisioning: replace an existing registration (new secret or board). */
  replace: z.boolean().optional(),
});

export type RegisterBandBody = z.infer<typeof RegisterBandRequest>;

/**
 * A band's health as a kiosk read it from the band's STATUS frame at a sync (docs/protocol.md section 7): the
 * fault and reset counters are totals since provisioning, so the latest report says everything and a report a
 * kiosk could not send is made good by the next sync's.
 */
export const BandHealthReport = z
  .object({
    /** When the band was synced (ISO 8601); a report older than the stored one is ignored. */
    syncedAt: z.string().datetime({ offset: true }),
    firmware: z.number().int().min(0).max(0xffff),
    board: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/),
    batteryPercent: z.number().int().min(0).max(100),
    lowBattery: z.boolean(),
    timeValid: z.boolean(),
    /** Exceptions the band caught in its duties and writes it lost, since provisioning (saturates at 65535). */
    faults: z.number().int().min(0).max(65535),
    /** The duty of the last fault (FAULT_DUTIES), null when none. */
    lastFaultDuty: z.string().max(32).nullable(),
    /** Watchdog or E.reboot restarts since provisioning (saturates at 255). */
    resets: z.number().int().min(0).max(255),
  })
  .strict();

export type BandHealth = z.infer<typeof BandHealthReport>;

export interface BandView {
  bandId: string;
  board: string;
  registeredAt: string;
  registeredBy: string;
  escrow: boolean;
  /** Whether the registry holds the band's sync key (the key itself is only ever given to kiosks). */
  hasSyncKey: boolean;
  /** The band's health at its latest sync a kiosk reported, with the kiosk's name; null before any. */
  health: (BandHealth & { reportedBy: string }) | null;
}

/** One band as GET /api/kiosk/bands lists it. */
export interface KioskBandView {
  bandId: string;
  board: string;
  /** 32 hex digits. */
  syncKey: string;
  escrow: boolean;
  registeredAt: string;
}

export interface KioskRegistry {
  bands: KioskBandView[];
  /** Bands a kiosk that refreshed at `since` must forget (deleted, or re-registered without a sync key). */
  deleted: string[];
  /** Pass this as `since` next time. */
  asOf: string;
}

/**
 * A refresh repeats the changes of this many seconds before `since`: a registration whose request started
 * before a listing but was written after it would otherwise be missed. Kiosks apply the answer as upserts,
 * so the overlap costs nothing but bytes.
 */
export const KIOSK_REFRESH_OVERLAP_S = 60;

const KIOSK_UNSEAL_CHUNK = 2000;

/** `since` of GET /api/kiosk/bands: Unix milliseconds (digits) or an ISO 8601 time. */
export function parseSince(raw: string): number {
  let ms: number;
  if (/^\d{1,15}$/.test(raw)) ms = Number(raw);
  else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)) ms = Date.parse(raw);
  else ms = NaN;
  if (!Number.isFinite(ms)) {
    throw new HttpError(400, "bad_request", "since: must be Unix milliseconds or an ISO 8601 time with a zone");
  }
  return ms;
}

export class BandRegistry {
  private readonly boards: Set<string> | null;

  constructor(
    private readonly store: AuthorityStore,
    private readonly config: AuthorityConfig,
    private readonly escrowKey: Buffer,
    private readonly syncKeySealKey: Buffer,
  ) {
    let ids: string[] = [];
    try {
      ids = listBoardIds();
    } catch {
      ids = [];
    }
    this.boards = ids.length ? new Set(ids) : null;
  }

  /**
   * The checks of `register` that need no database: a known board, no escrow secret in a private deployment, a
   * sync key from the flasher. Throws the HttpError `register` would; `registry import` runs it on every band
   * before it registers any.
   */
  check(actor: Actor, body: RegisterBandBody): void {
    if (this.boards && !this.boards.has(body.board)) {
      throw new HttpError(
        400,
        "unknown_board",
        `unknown board "${body.board}" (known: ${[...this.boards].join(", ")})`,
      );
    }
    if (body.escrowSecret !== undefined && this.config.deployment !== "escrow") {
      throw new HttpError(
        400,
        "escrow_disabled",
        "this authority runs the private deployment and does not accept escrow secrets",
      );
    }
    if (body.syncKey === undefined && actor.role === "flasher") {
      throw new HttpError(
        400,
        "sync_key_required",
        "syncKey: the flasher must register the band's sync key (32 hex digits)",
      );
    }
  }

  async register(
    actor: Actor,
    body: RegisterBandBody,
    now: number,
  ): Promise<{ status: "created" | "unchanged" | "updated" | "replaced"; band: BandView }> {
    const bandId = body.bandId.toLowerCase();
    this.check(actor, body);
    const secret = body.escrowSecret !== undefined ? Buffer.from(body.escrowSecret, "hex") : null;
    const syncKey = body.syncKey !== undefined ? Buffer.from(body.syncKey, "hex") : null;
    const aad = Buffer.from(bandId, "hex");
    const row: BandRow = {
      bandId,
      board: body.board,
      registeredAt: now,
      registeredBy: actor.name,
      secretSealed: secret ? seal(this.escrowKey, secret, aad) : null,
      syncKeySealed: syncKey ? seal(this.syncKeySealKey, syncKey, aad) : null,
      changedAt: now,
    };
    if (await this.store.insertBand(row)) return { status: "created", band: view(row) };
    const existing = (await this.store.getBand(bandId)) as BandRow;
    const oldSecret = existing.secretSealed ? open(this.escrowKey, existing.secretSealed, aad) : null;
    const oldSyncKey = existing.syncKeySealed ? open(this.syncKeySealKey, existing.syncKeySealed, aad) : null;
    const sameBoardAndSecret = existing.board === body.board && sameKey(oldSecret, secret);
    if (sameBoardAndSecret && sameKey(oldSyncKey, syncKey)) return { status: "unchanged", band: view(existing) };
    if (sameBoardAndSecret && !existing.syncKeySealed && syncKey) {
      // A band registered before sync keys were recorded: adding its key changes nothing else, so no replace.
      const updated: BandRow = { ...existing, syncKeySealed: row.syncKeySealed, changedAt: now };
      await this.store.replaceBand(updated);
      return { status: "updated", band: view(updated) };
    }
    if (!body.replace) {
      throw new HttpError(
        409,
        "band_exists",
        "this band id is registered with another board, secret or sync key; send replace: true to re-provision",
      );
    }
    await this.store.replaceBand(row);
    return { status: "replaced", band: view(row) };
  }

  /**
   * What a kiosk needs to sync bands: every band with a sync key (changed at or after `sinceMs` minus
   * KIOSK_REFRESH_OVERLAP_S, when given) with the key unsealed, and the bands to forget since then.
   */
  async listForKiosk(sinceMs: number | undefined, now: number): Promise<KioskRegistry> {
    const since = sinceMs === undefined ? null : Math.floor(sinceMs / 1000) - KIOSK_REFRESH_OVERLAP_S;
    const rows = await this.store.kioskBands(since);
    const bands: KioskBandView[] = [];
    for (const r of rows) {
      // Unsealing is ~8 us a band: a full listing of 100,000 bands would hold the event loop for about a
      // second, so other requests get their turn every KIOSK_UNSEAL_CHUNK bands.
      if (bands.length > 0 && bands.length % KIOSK_UNSEAL_CHUNK === 0) await new Promise(setImmediate);
      const key = open(this.syncKeySealKey, r.syncKeySealed, Buffer.from(r.bandId, "hex"));
      if (!key) {
        // The database and the server key do not belong together (or the row was altered): never guess.
        throw new Error(`the sealed sync key of band ${r.bandId} does not open with this server key`);
      }
      bands.push({
        bandId: r.bandId,
        board: r.board,
        syncKey: key.toString("hex"),
        escrow: r.escrow,
        registeredAt: isoTime(r.registeredAt),
      });
    }
    const deleted = since === null ? [] : await this.store.bandsForgottenSince(since);
    return { bands, deleted, asOf: isoTime(now) };
  }

  async get(bandId: string): Promise<BandView | undefined> {
    if (!/^[0-9a-fA-F]{16}$/.test(bandId)) return undefined;
    const b = await this.store.getBand(bandId.toLowerCase());
    return b ? view(b) : undefined;
  }

  /** Records a kiosk's health report; false when the registry has no such band. */
  async recordHealth(actor: Actor, bandId: string, report: BandHealth): Promise<boolean> {
    if (!/^[0-9a-fA-F]{16}$/.test(bandId)) return false;
    const at = Math.floor(Date.parse(report.syncedAt) / 1000);
    return this.store.setBandHealth(bandId.toLowerCase(), at, JSON.stringify({ ...report, reportedBy: actor.name }));
  }

  async remove(bandId: string, now: number): Promise<boolean> {
    if (!/^[0-9a-fA-F]{16}$/.test(bandId)) return false;
    return this.store.deleteBand(bandId.toLowerCase(), now);
  }
}

/** The audit entry of a registration, the same from POST /api/bands and `registry import`; none when unchanged. */
export function registrationAudit(r: {
  status: string;
  band: BandView;
}): { action: string; subject: string; detail: Record<string, unknown> } | undefined {
  if (r.status === "unchanged") return undefined;
  return {
    action: "band." + r.status,
    subject: r.band.bandId,
    detail: { board: r.band.board, escrow: r.band.escrow, syncKey: r.band.hasSyncKey },
  };
}

function view(b: BandRow): BandView {
  return {
    bandId: b.bandId,
    board: b.board,
    registeredAt: isoTime(b.registeredAt),
    registeredBy: b.registeredBy,
    escrow: b.secretSealed !== null,
    hasSyncKey: Boolean(b.syncKeySealed),
    health: b.health ? (JSON.parse(b.health) as BandView["health"]) : null,
  };
}

/** Equal keys (both absent counts as equal), compared in constant time. */
function sameKey(a: Buffer | null | undefined, b: Buffer | null): boolean {
  if (a === null && b === null) return true;
  return a !== null && a !== undefined && b !== null && a.length === b.length && timingSafeEqual(a, b);
}

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
 * The band registry, filled by the flasher when it provisions a band. In escrow deployments each band's
 * escrow secret is sealed (AES-256-GCM under the server's escrow subkey, bound to the band id) before it
 * touches the database; in private deployments the registry refuses secrets it has no use for.
 */
export const RegisterBandRequest = z.object({
  bandId: z.string().regex(/^[0-9a-fA-F]{16}$/, "must be 16 hex digits (8 bytes)"),
  board: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "must be a board id such as puckjs"),
  escrowSecret: z
    .string()
    .regex(/^[0-9a-fA-F]{32}$/, "must be 32 hex digits (16 bytes)")
    .optional(),
  /** Re-provisioning: replace an existing registration (new secret or board). */
  replace: z.boolean().optional(),
});

export type RegisterBandBody = z.infer<typeof RegisterBandRequest>;

export interface BandView {
  bandId: string;
  board: string;
  registeredAt: string;
  registeredBy: string;
  escrow: boolean;
}

export class BandRegistry {
  private readonly boards: Set<string> | null;

  constructor(
    private readonly store: AuthorityStore,
    private readonly config: AuthorityConfig,
    private readonly escrowKey: Buffer,
  ) {
    let ids: string[] = [];
    try {
      ids = listBoardIds();
    } catch {
      ids = [];
    }
    this.boards = ids.length ? new Set(ids) : null;
  }

  async register(
    actor: Actor,
    body: RegisterBandBody,
    now: number,
  ): Promise<{ status: "created" | "unchanged" | "replaced"; band: BandView }> {
    const bandId = body.bandId.toLowerCase();
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
    const secret = body.escrowSecret !== undefined ? Buffer.from(body.escrowSecret, "hex") : null;
    const aad = Buffer.from(bandId, "hex");
    const row: BandRow = {
      bandId,
      board: body.board,
      registeredAt: now,
      registeredBy: actor.name,
      secretSealed: secret ? seal(this.escrowKey, secret, aad) : null,
    };
    if (await this.store.insertBand(row)) return { status: "created", band: view(row) };
    const existing = (await this.store.getBand(bandId)) as BandRow;
    const oldSecret = existing.secretSealed ? open(this.escrowKey, existing.secretSealed, aad) : null;
    const sameSecret =
      (oldSecret === null && secret === null) ||
      (oldSecret !== null && oldSecret !== undefined && secret !== null && timingSafeEqual(oldSecret, secret));
    if (sameSecret && existing.board === body.board) return { status: "unchanged", band: view(existing) };
    if (!body.replace) {
      throw new HttpError(
        409,
        "band_exists",
        "this band id is registered with another board or secret; send replace: true to re-provision",
      );
    }
    await this.store.replaceBand(row);
    return { status: "replaced", band: view(row) };
  }

  async get(bandId: string): Promise<BandView | undefined> {
    if (!/^[0-9a-fA-F]{16}$/.test(bandId)) return undefined;
    const b = await this.store.getBand(bandId.toLowerCase());
    return b ? view(b) : undefined;
  }

  async remove(bandId: string): Promise<boolean> {
    if (!/^[0-9a-fA-F]{16}$/.test(bandId)) return false;
    return this.store.deleteBand(bandId.toLowerCase());
  }
}

function view(b: BandRow): BandView {
  return {
    bandId: b.bandId,
    board: b.board,
    registeredAt: isoTime(b.registeredAt),
    registeredBy: b.registeredBy,
    escrow: b.secretSealed !== null,
  };
}

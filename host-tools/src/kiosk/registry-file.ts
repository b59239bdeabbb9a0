import * as fs from "fs";
import * as path from "path";
import { z } from "zod";

/**
 * The offline band registry file: the bands a kiosk may sync, with their sync keys, for a clinic without a
 * link to the authority. Written by `tracelet authority registry export` and, offline, by `tracelet flash`
 * (writeRegistryFile); read by the kiosk and by `tracelet authority registry import` (loadRegistryFile). Its band entries have the shape of GET /api/kiosk/bands's entries (which carry a
 * few more fields); readers ignore fields they do not know, so later versions may only add optional ones.
 *
 *     {"version": 1, "kind": "tracelet-band-registry", "exportedAt": "<ISO>",
 *      "bands": [{"bandId": "<16 hex>", "board": "puckjs", "syncKey": "<32 hex>"}]}
 *
 * Sync keys let their holder read, reset and follow bands (docs/authority.md, Band registry), so the file is
 * created mode 0600 and a file that group or others can read is refused in both directions.
 */
export const REGISTRY_FILE_KIND = "tracelet-band-registry";
export const REGISTRY_FILE_VERSION = 1;

export const RegistryBandSchema = z.object({
  bandId: z.string().regex(/^[0-9a-fA-F]{16}$/, "must be 16 hex digits (8 bytes)"),
  board: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "must be a board id such as puckjs"),
  syncKey: z.string().regex(/^[0-9a-fA-F]{32}$/, "must be 32 hex digits (16 bytes)"),
  /**
   * Escrow deployments, in the file the flasher writes offline only: the band secret the authority needs
   * (`tracelet authority registry import`). Kiosks never use it; the authority's export never writes it.
   */
  escrowSecret: z
    .string()
    .regex(/^[0-9a-fA-F]{32}$/, "must be 32 hex digits (16 bytes)")
    .optional(),
});

export const RegistryFileSchema = z.object({
  version: z.literal(REGISTRY_FILE_VERSION),
  kind: z.literal(REGISTRY_FILE_KIND),
  exportedAt: z.iso.datetime({ offset: true }),
  bands: z.array(RegistryBandSchema),
});

/** One band a kiosk may sync; hex is lowercase after loading. */
export interface RegistryBand {
  bandId: string;
  board: string;
  syncKey: string;
  escrowSecret?: string;
}

export interface RegistryFile {
  version: typeof REGISTRY_FILE_VERSION;
  kind: typeof REGISTRY_FILE_KIND;
  exportedAt: string;
  bands: RegistryBand[];
}

/**
 * A registry file that cannot be used; the message names the file and what is wrong (never a key). `kind`:
 * "file" when the file itself could not be read or written or is shared, "content" when what it holds is wrong.
 */
export class RegistryFileError extends Error {
  constructor(
    message: string,
    readonly kind: "file" | "content" = "content",
  ) {
    super(message);
    this.name = "RegistryFileError";
  }
}

/**
 * Reads and checks a registry file: readable by its owner only, JSON, kind and version, every band's hex
 * fields (the message names the band's index), no band id twice. Band ids and keys come back lowercase.
 */
export function loadRegistryFile(file: string): RegistryFile {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (e) {
    throw new RegistryFileError(`cannot read band registry file ${file}: ${cause(e)}`, "file");
  }
  if (stat.isDirectory()) throw new RegistryFileError(`band registry file ${file} is a folder`, "file");
  refuseShared(stat, file, `band registry file ${file} holds band sync keys but is readable by group or others`);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new RegistryFileError(`cannot read band registry file ${file}: ${cause(e)}`, "file");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RegistryFileError(`band registry file ${file} is not JSON: ${(e as Error).message}`);
  }
  return parseRegistry(raw, file);
}

/** Checks parsed JSON as a registry file (`source` names it in messages). */
export function parseRegistry(raw: unknown, source: string): RegistryFile {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new RegistryFileError(`${source} is not a Tracelet band registry (not a JSON object)`);
  }
  const top = raw as Record<string, unknown>;
  if (top.kind !== REGISTRY_FILE_KIND) {
    throw new RegistryFileError(
      `${source} is not a Tracelet band registry (kind ${JSON.stringify(top.kind) ?? "missing"}, expected "${REGISTRY_FILE_KIND}")`,
    );
  }
  if (top.version !== REGISTRY_FILE_VERSION) {
    throw new RegistryFileError(
      `${source}: band registry version ${JSON.stringify(top.version) ?? "missing"} is not supported (this Tracelet reads version ${REGISTRY_FILE_VERSION})`,
    );
  }
  const r = RegistryFileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    const where = i.path
      .map((p, n) => (typeof p === "number" ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`))
      .join("");
    throw new RegistryFileError(`${source}: ${where || "file"}: ${i.message}`);
  }
  const seen = new Map<string, number>();
  const bands = r.data.bands.map((b, index): RegistryBand => {
    const bandId = b.bandId.toLowerCase();
    const first = seen.get(bandId);
    if (first !== undefined) {
      throw new RegistryFileError(`${source}: bands[${index}]: band ${bandId} is listed twice (also bands[${first}])`);
    }
    seen.set(bandId, index);
    const band: RegistryBand = { bandId, board: b.board, syncKey: b.syncKey.toLowerCase() };
    if (b.escrowSecret !== undefined) band.escrowSecret = b.escrowSecret.toLowerCase();
    return band;
  });
  return { version: REGISTRY_FILE_VERSION, kind: REGISTRY_FILE_KIND, exportedAt: r.data.exportedAt, bands };
}

/** The file's text for these bands (checked like a loaded file, so a writer cannot produce one a kiosk refuses). */
export function serializeRegistry(bands: readonly RegistryBand[], exportedAt: Date): string {
  const doc = {
    version: REGISTRY_FILE_VERSION,
    kind: REGISTRY_FILE_KIND,
    exportedAt: exportedAt.toISOString(),
    bands: bands.map((b) =>
      b.escrowSecret === undefined
        ? { bandId: b.bandId, board: b.board, syncKey: b.syncKey }
        : { bandId: b.bandId, board: b.board, syncKey: b.syncKey, escrowSecret: b.escrowSecret },
    ),
  };
  parseRegistry(doc, "the registry being written");
  return JSON.stringify(doc, null, 2) + "\n";
}

/**
 * Writes a registry file readable by its owner only: the text goes to a new 0600 file next to `file`, which
 * then replaces it, so no reader ever sees a half-written file. An existing file that group or others can read
 * is refused rather than replaced (someone chose to share it: that should be looked at, not overwritten).
 */
export function writeRegistryFile(file: string, bands: readonly RegistryBand[], exportedAt: Date): void {
  const text = serializeRegistry(bands, exportedAt);
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new RegistryFileError(`cannot write band registry file ${file}: ${cause(e)}`, "file");
    }
  }
  if (existing) {
    if (!existing.isFile()) {
      throw new RegistryFileError(`refusing to overwrite ${file}: it is not a regular file`, "file");
    }
    refuseShared(existing, file, `refusing to overwrite ${file}: it is readable by group or others`);
  }
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    const fd = fs.openSync(tmp, "wx", 0o600);
    try {
      fs.fchmodSync(fd, 0o600);
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new RegistryFileError(`cannot write band registry file ${file}: ${cause(e)}`, "file");
  }
}

function refuseShared(stat: fs.Stats, file: string, what: string): void {
  if (process.platform === "win32") return;
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new RegistryFileError(`${what} (mode 0${mode.toString(8)}); chmod 600 ${file}`, "file");
  }
}

function cause(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === "string")
    return `${err.message.replace(/^E[A-Z]+: /, "").replace(/, \w+ '.*'$/, "")} (${err.code})`;
  return err instanceof Error ? err.message : String(e);
}

import * as fs from "fs";
import * as path from "path";
import { AuthorityClient, AuthorityError } from "../kiosk/authority-client";
import {
  loadRegistryFile,
  RegistryBand,
  RegistryFileError,
  serializeRegistry,
  writeRegistryFile,
} from "../kiosk/registry-file";

/**
 * Where the flasher records a band it provisions: the authority's band registry (POST /api/bands with the
 * flasher's API key) or, offline, a registry file (docs/kiosk.md's format, mode 0600) that kiosks load and the
 * authority imports (`tracelet authority registry import`). A band id or a key that is already known is never
 * used again: the flasher draws a new identity instead.
 */
export interface BandRecord {
  bandId: string;
  board: string;
  syncKey: string;
  /** Escrow deployments only. */
  escrowSecret?: string;
}

export interface RegistrySink {
  /** Shown in messages: "the authority at https://..." or "registry file bands.json". */
  readonly where: string;
  /** Checked before anything is written to a band: fails early with one line if the registry cannot be used. */
  check(): Promise<void>;
  /** Whether this band id (or, where the sink can tell, this key) is already taken. */
  taken(r: BandRecord): Promise<boolean>;
  add(r: BandRecord): Promise<void>;
}

export class RegistryError extends Error {
  constructor(
    message: string,
    /** "network": the authority could not be reached or refused; "file": the file could not be used. */
    readonly kind: "network" | "auth" | "file",
  ) {
    super(message);
  }
}

export class AuthoritySink implements RegistrySink {
  readonly where: string;
  private client: AuthorityClient;

  constructor(url: string, apiKey: string, opts: { fetch?: typeof fetch } = {}) {
    this.client = new AuthorityClient(url, apiKey, { fetch: opts.fetch });
    this.where = `the authority at ${url}`;
  }

  private wrap(e: unknown, what: string): RegistryError {
    if (e instanceof AuthorityError) {
      const kind = e.status === 401 || e.status === 403 ? "auth" : "network";
      return new RegistryError(`${what}: ${e.message}`, kind);
    }
    return new RegistryError(`${what}: ${(e as Error).message}`, "network");
  }

  async check(): Promise<void> {
    // A band id nobody has: answers 404 with a working key, 401/403 without one.
    try {
      await this.client.bandRegistered("0000000000000000");
    } catch (e) {
      throw this.wrap(e, `cannot use ${this.where}`);
    }
  }

  async taken(r: BandRecord): Promise<boolean> {
    try {
      return await this.client.bandRegistered(r.bandId);
    } catch (e) {
      throw this.wrap(e, `cannot ask ${this.where} about band ${r.bandId}`);
    }
  }

  async add(r: BandRecord): Promise<void> {
    try {
      await this.client.registerBand({ ...r });
    } catch (e) {
      throw this.wrap(e, `${this.where} did not register band ${r.bandId}`);
    }
  }
}

export class FileSink implements RegistrySink {
  readonly where: string;

  constructor(private readonly file: string) {
    this.where = `registry file ${file}`;
  }

  private read(): RegistryBand[] {
    if (!fs.existsSync(this.file)) return [];
    try {
      return loadRegistryFile(this.file).bands;
    } catch (e) {
      throw new RegistryError((e as Error).message, "file");
    }
  }

  async check(): Promise<void> {
    const bands = this.read();
    // Prove the file can be written before a band is touched: an existing one is written back unchanged; for a
    // new one its folder must take it (the file itself appears with the first band).
    try {
      if (bands.length) writeRegistryFile(this.file, bands, new Date());
      else if (fs.existsSync(this.file)) fs.accessSync(this.file, fs.constants.W_OK);
      else {
        const dir = path.dirname(this.file);
        let ok = false;
        try {
          ok = fs.statSync(dir).isDirectory();
          if (ok) fs.accessSync(dir, fs.constants.W_OK);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw new RegistryError(
            `cannot write band registry file ${this.file}: ` +
              (code === "ENOENT" ? `its folder ${dir} does not exist` : `its folder ${dir} is not writable (${code})`),
            "file",
          );
        }
        if (!ok)
          throw new RegistryError(`cannot write band registry file ${this.file}: ${dir} is not a folder`, "file");
      }
    } catch (e) {
      if (e instanceof RegistryError) throw e;
      throw new RegistryError(e instanceof RegistryFileError ? e.message : (e as Error).message, "file");
    }
  }

  async taken(r: BandRecord): Promise<boolean> {
    return this.read().some(
      (b) =>
        b.bandId === r.bandId ||
        b.syncKey === r.syncKey ||
        (r.escrowSecret !== undefined && b.escrowSecret === r.escrowSecret),
    );
  }

  async add(r: BandRecord): Promise<void> {
    const bands = this.read();
    if (bands.some((b) => b.bandId === r.bandId))
      throw new RegistryError(`band ${r.bandId} is already in ${this.where}`, "file");
    bands.push({ ...r });
    try {
      serializeRegistry(bands, new Date());
      writeRegistryFile(this.file, bands, new Date());
    } catch (e) {
      throw new RegistryError((e as Error).message, "file");
    }
  }
}

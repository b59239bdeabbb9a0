import { Command } from "commander";
import * as path from "path";
import { AuthorityApp } from "../authority/app";
import { BandRegistry } from "../authority/bands";
import { AuthorityConfig, loadConfigFile, parseConfig } from "../authority/config";
import { deriveServerSubkeys } from "../authority/crypto/server-keys";
import {
  AuthoritySecrets,
  generateSecretsFile,
  loadOrCreateSecrets,
  loadSecretsFile,
  SecretsFile,
  secretsFromFile,
} from "../authority/secrets";
import { startServer } from "../authority/server";
import { SqliteStore } from "../authority/store/sqlite";
import { RegistryFileError, writeRegistryFile } from "../kiosk/registry-file";
import { CliError, ExitCode } from "./exit-codes";
import { requireInputFile } from "./files";
import { parseNumberOption } from "./options";
import { emit, log } from "./output";

interface ServeOptions {
  db: string;
  host: string;
  port: string;
  config?: string;
  tlsCert?: string;
  tlsKey?: string;
  json?: boolean;
}

export const DEFAULT_AUTHORITY_PORT = 8787;

/** `tracelet authority serve`: the health-authority server (see docs/authority.md). */
export function registerAuthority(program: Command): void {
  const authority = program
    .command("authority")
    .description("health-authority server: verified key publishing, band logs, band registry, F1 worklist, exports");
  authority
    .command("serve")
    .description("run the authority HTTP server until SIGINT/SIGTERM")
    .option("--db <path>", "SQLite database file (created and migrated on start)", "tracelet-authority.db")
    .option("--host <address>", "address to listen on (keep loopback unless TLS is set up)", "127.0.0.1")
    .option("--port <n>", "TCP port; 0 picks a free one", String(DEFAULT_AUTHORITY_PORT))
    .option("--config <file>", "JSON config (deployment private|escrow, limits, exposure buckets, ...)")
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (chain)")
    .option("--tls-key <file>", "PEM private key for --tls-cert")
    .option("--json", "print the listening address as JSON on stdout")
    .action(async (opts: ServeOptions) => {
      await serve(opts);
    });
  const registry = authority.command("registry").description("the band registry, for kiosks without a link");
  registry
    .command("export")
    .description("write every band's sync key to a registry file (mode 0600) for offline kiosks")
    .requiredOption("--db <path>", "the authority's SQLite database (must exist)")
    .option("--secrets <file>", "secrets file holding the server key (default: <db>.secrets.json)")
    .requiredOption("--out <file>", "registry file to write (created 0600; a file others can read is refused)")
    .option("--json", "print {out, bands, withoutSyncKey} as JSON on stdout")
    .action(async (opts: ExportRegistryOptions) => {
      await exportRegistry(opts);
    });
}

interface ExportRegistryOptions {
  db: string;
  secrets?: string;
  out: string;
  json?: boolean;
}

/**
 * `tracelet authority registry export`: the kiosk registry (GET /api/kiosk/bands) as a file. Bands without a
 * sync key (registered before sync keys were recorded) are left out and counted. The export is audited in
 * the database like a kiosk's listing.
 */
async function exportRegistry(opts: ExportRegistryOptions): Promise<void> {
  if (opts.db === ":memory:") throw new CliError(ExitCode.USAGE, "--db: an in-memory database has no bands to export");
  requireInputFile("--db", opts.db);
  const secretsFile = opts.secrets ?? path.resolve(opts.db) + ".secrets.json";
  requireInputFile("--secrets", secretsFile);
  const config = parseConfig({});
  let secrets: AuthoritySecrets;
  try {
    secrets = loadSecretsFile(secretsFile, config);
  } catch (e) {
    throw new CliError(ExitCode.BAD_INPUT, (e as Error).message);
  }
  let store: SqliteStore;
  try {
    store = new SqliteStore(path.resolve(opts.db));
  } catch (e) {
    throw new CliError(ExitCode.BAD_INPUT, `cannot open database ${opts.db}: ${(e as Error).message}`);
  }
  try {
    const sub = deriveServerSubkeys(secrets.serverKey);
    const registry = new BandRegistry(store, config, sub.escrowSeal, sub.syncKeySeal);
    const nowMs = Date.now();
    const now = Math.floor(nowMs / 1000);
    let listed;
    try {
      listed = await registry.listForKiosk(undefined, now);
    } catch (e) {
      throw new CliError(ExitCode.BAD_INPUT, `${(e as Error).message} (is ${secretsFile} this database's?)`);
    }
    const withoutSyncKey = (await store.counts()).bands - listed.bands.length;
    try {
      writeRegistryFile(path.resolve(opts.out), listed.bands, new Date(nowMs));
    } catch (e) {
      throw new CliError(e instanceof RegistryFileError ? ExitCode.FILE : ExitCode.INTERNAL, (e as Error).message);
    }
    await store.audit({
      at: now,
      actor: "cli",
      action: "bands.synckeys.exported",
      subject: null,
      ip: null,
      detail: { count: listed.bands.length },
    });
    const info = { out: path.resolve(opts.out), bands: listed.bands.length, withoutSyncKey };
    emit(
      opts,
      info,
      () =>
        `wrote ${info.bands} band(s) with sync keys to ${info.out} (mode 0600)` +
        (withoutSyncKey ? `; ${withoutSyncKey} band(s) registered without a sync key were left out` : ""),
    );
  } finally {
    await store.close();
  }
}

async function serve(opts: ServeOptions): Promise<void> {
  const port = parseNumberOption("port", opts.port, { min: 0, max: 65535, integer: true });
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
    throw new CliError(ExitCode.USAGE, "--tls-cert and --tls-key go together");
  }
  if (opts.config) requireInputFile("--config", opts.config);
  if (opts.tlsCert) requireInputFile("--tls-cert", opts.tlsCert);
  if (opts.tlsKey) requireInputFile("--tls-key", opts.tlsKey);
  let config: AuthorityConfig;
  try {
    config = opts.config ? loadConfigFile(opts.config) : parseConfig({});
  } catch (e) {
    throw new CliError(ExitCode.BAD_INPUT, (e as Error).message);
  }
  const memory = opts.db === ":memory:";
  const secretsFile = config.secretsFile ?? (memory ? undefined : path.resolve(opts.db) + ".secrets.json");
  let secrets: AuthoritySecrets;
  let created = false;
  let throwAway: SecretsFile | undefined;
  try {
    if (secretsFile) {
      const r = loadOrCreateSecrets(secretsFile, config);
      secrets = r.secrets;
      created = r.created;
    } else {
      throwAway = generateSecretsFile();
      secrets = secretsFromFile(throwAway, config);
    }
  } catch (e) {
    throw new CliError(ExitCode.BAD_INPUT, (e as Error).message);
  }
  if (created) log(`authority: generated server key, signing keys and API keys in ${secretsFile} (mode 0600)`);
  let store: SqliteStore;
  try {
    store = new SqliteStore(memory ? ":memory:" : path.resolve(opts.db));
  } catch (e) {
    throw new CliError(ExitCode.BAD_INPUT, `cannot open database ${opts.db}: ${(e as Error).message}`);
  }
  const tls = opts.tlsCert && opts.tlsKey ? { certFile: opts.tlsCert, keyFile: opts.tlsKey } : config.tls;
  if (!tls && !isLoopback(opts.host)) {
    log(`authority: warning: plain HTTP on ${opts.host}; terminate TLS in front of it or pass --tls-cert/--tls-key`);
  }
  if (config.deployment === "escrow") {
    log("authority: escrow deployment: this server holds band secrets and can recognise every escrow band's adverts");
  }
  const app = new AuthorityApp({ config, secrets, store });
  let running;
  try {
    running = await startServer(app, { host: opts.host, port, tls });
  } catch (e) {
    await store.close();
    throw new CliError(ExitCode.NETWORK, `cannot listen on ${opts.host}:${opts.port}: ${(e as Error).message}`);
  }
  const info = {
    url: running.url,
    host: running.host,
    port: running.port,
    deployment: config.deployment,
    db: memory ? ":memory:" : path.resolve(opts.db),
    secretsFile: secretsFile ?? null,
    tls: Boolean(tls),
  };
  if (throwAway) {
    // Nothing is written for an in-memory run, so its keys are shown once here or the admin, kiosk and flasher
    // endpoints could not be used at all. Stderr only: stdout stays the listening address.
    log("authority: in-memory database: throw-away secrets, gone when the server stops; API keys (X-API-Key header):");
    for (const k of throwAway.apiKeys) log(`authority:   ${k.role.padEnd(7)} ${k.key}`);
  }
  emit(opts, info, () => `authority listening on ${info.url} (deployment ${info.deployment}, db ${info.db})`);
  // Last line of defence: a stray error (a bug in some callback) is logged, not allowed to end the server.
  // Requests never get here; the HTTP layer answers their errors with 500.
  const stray = (e: unknown) =>
    log(`authority: unexpected error (still serving): ${(e as Error)?.message ?? String(e)}`);
  process.on("uncaughtException", stray);
  process.on("unhandledRejection", stray);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      log("authority: shutting down");
      void running
        .close()
        .then(() => store.close())
        .then(() => {
          process.off("uncaughtException", stray);
          process.off("unhandledRejection", stray);
          resolve();
        });
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

export function isLoopback(host: string): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "localhost" || host.startsWith("127.");
}

import { Command } from "commander";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AuthorityApp } from "../authority/app";
import { BandRegistry, KioskRegistry, registrationAudit } from "../authority/bands";
import { AuthorityConfig } from "../authority/config";
import { Actor } from "../authority/crypto/api-keys";
import { deriveServerSubkeys } from "../authority/crypto/server-keys";
import { syncExportDir } from "../authority/export/publish-dir";
import { publicKeyPem, signingKeysJson } from "../authority/export/signing-keys";
import { HttpError } from "../authority/http/errors";
import {
  AuthoritySecrets,
  generateSecretsFile,
  loadOrCreateSecrets,
  loadSecretsFile,
  SecretsFile,
  secretsFromFile,
} from "../authority/secrets";
import { runF1Worker } from "../authority/f1/worker";
import { startServer } from "../authority/server";
import { openStore } from "../authority/store/open";
import { isPostgresUrl, redactUrl } from "../authority/store/postgres";
import { AuthorityStore } from "../authority/store/store";
import { loadRegistryFile, RegistryFileError, writeRegistryFile } from "../kiosk/registry-file";
import { registerExportKeys } from "./authority-keys";
import { cliAuthorityConfig } from "./authority-config";
import { CliError, ExitCode } from "./exit-codes";
import { fileError, isFileSystemError, requireInputFile } from "./files";
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
    .option(
      "--db <path|url>",
      "SQLite database file, or a postgres://user:password@host/db URL (created or migrated on start)",
      "tracelet-authority.db",
    )
    .option("--host <address>", "address to listen on (keep loopback unless TLS is set up)", "127.0.0.1")
    .option("--port <n>", "TCP port; 0 picks a free one", String(DEFAULT_AUTHORITY_PORT))
    .option("--config <file>", "JSON config (deployment private|escrow, limits, exposure buckets, ...)")
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (chain)")
    .option("--tls-key <file>", "PEM private key for --tls-cert")
    .option("--json", "print the listening address as JSON on stdout")
    .action(async (opts: ServeOptions) => {
      await serve(opts);
    });
  authority
    .command("worker")
    .description("resolve uploaded band logs to F1 contacts (escrow), beside API nodes started with f1Workers")
    .requiredOption("--db <path|url>", "the authority's database: a postgres:// URL (or a SQLite file, one worker)")
    .option(
      "--secrets <file>",
      "secrets file holding the server key (default: <db>.secrets.json; required for postgres)",
    )
    .option("--config <file>", "the authority's JSON config (the same as the API nodes')")
    .option("--poll <seconds>", "how often an idle worker looks for pending logs", "5")
    .option("--json", "print {worker, db} as JSON on stdout once it runs, and {resolved, jobs, planned} when it stops")
    .action(async (opts: WorkerOptions) => {
      await worker(opts);
    });
  const exportsCmd = authority.command("exports").description("export files for phones, for a CDN or static server");
  exportsCmd
    .command("write")
    .description(
      "write every export file the database holds, index.txt, signing-key.pem and signing-keys.json to <out>/v1/exports/",
    )
    .requiredOption("--db <path|url>", "the authority's database: a SQLite file or a postgres:// URL")
    .option(
      "--secrets <file>",
      "secrets file holding the export signing key (default: <db>.secrets.json; required for postgres)",
    )
    .option("--config <file>", "the authority's JSON config (exports.retentionDays decides what index.txt lists)")
    .requiredOption("--out <dir>", "root of the tree a static server or CDN serves (created if missing)")
    .option("--json", "print {out, files, written, removed, listed} as JSON on stdout")
    .action(async (opts: WriteExportsOptions) => {
      await writeExports(opts);
    });
  registerExportKeys(authority);
  const registry = authority.command("registry").description("the band registry, for kiosks without a link");
  registry
    .command("export")
    .description("write every band's sync key to a registry file (mode 0600) for offline kiosks")
    .requiredOption("--db <path|url>", "the authority's SQLite database (must exist) or postgres:// URL")
    .option(
      "--secrets <file>",
      "secrets file holding the server key (default: <db>.secrets.json; required for postgres)",
    )
    .requiredOption("--out <file>", "registry file to write (created 0600; a file others can read is refused)")
    .option("--json", "print {out, bands, withoutSyncKey} as JSON on stdout")
    .action(async (opts: ExportRegistryOptions) => {
      await exportRegistry(opts);
    });
  registry
    .command("import")
    .description("register every band of a registry file the flasher wrote offline (tracelet flash --registry)")
    .requiredOption("--db <path|url>", "the authority's SQLite database (must exist) or postgres:// URL")
    .option(
      "--secrets <file>",
      "secrets file holding the server key (default: <db>.secrets.json; required for postgres)",
    )
    .option("--config <file>", "the authority's JSON config: its deployment (private|escrow) decides escrow secrets")
    .requiredOption("--in <file>", "registry file written by tracelet flash --registry (mode 0600)")
    .option("--json", "print {in, created, unchanged, updated, conflicts} as JSON on stdout")
    .action(async (opts: ImportRegistryOptions) => {
      await importRegistry(opts);
    });
}

interface ExportRegistryOptions {
  db: string;
  secrets?: string;
  out: string;
  json?: boolean;
}

/** The authority's band registry opened from the command line: database, secrets file and config. */
interface OpenedRegistry {
  store: AuthorityStore;
  registry: BandRegistry;
  escrowSeal: Buffer;
  config: AuthorityConfig;
  secrets: AuthoritySecrets;
  secretsFile: string;
}

/**
 * Opens an existing database with its secrets file (default `<db>.secrets.json`, or the config's secretsFile)
 * for `registry export` and `registry import`. `memoryReason` ends the message for `--db :memory:`.
 */
async function openRegistry(
  opts: { db: string; secrets?: string; config?: string },
  memoryReason: string,
): Promise<OpenedRegistry> {
  if (opts.db === ":memory:") throw new CliError(ExitCode.USAGE, `--db: an in-memory database ${memoryReason}`);
  const postgres = isPostgresUrl(opts.db);
  if (!postgres) requireInputFile("--db", opts.db);
  const config = cliAuthorityConfig(opts.config);
  const secretsFile =
    opts.secrets ?? config.secretsFile ?? (postgres ? undefined : path.resolve(opts.db) + ".secrets.json");
  if (!secretsFile)
    throw new CliError(ExitCode.USAGE, "--db postgres://...: pass --secrets <file> (the nodes' secrets file)");
  requireInputFile("--secrets", secretsFile);
  let secrets: AuthoritySecrets;
  try {
    secrets = loadSecretsFile(secretsFile, config);
  } catch (e) {
    throw new CliError(ExitCode.BAD_INPUT, (e as Error).message);
  }
  const store = await openCliStore(opts.db);
  const sub = deriveServerSubkeys(secrets.serverKey);
  return {
    store,
    registry: new BandRegistry(store, config, sub.escrowSeal, sub.syncKeySeal),
    escrowSeal: sub.escrowSeal,
    config,
    secrets,
    secretsFile,
  };
}

/**
 * Every band with a sync key, unsealed: also the proof that the secrets file belongs to the database (a sealed
 * key that does not open stops the command before it writes anything).
 */
async function listRegistry(o: OpenedRegistry, now: number): Promise<KioskRegistry> {
  try {
    return await o.registry.listForKiosk(undefined, now);
  } catch (e) {
    throw new CliError(ExitCode.BAD_INPUT, `${(e as Error).message} (is ${o.secretsFile} this database's?)`);
  }
}

/**
 * `tracelet authority registry export`: the kiosk registry (GET /api/kiosk/bands) as a file. Bands without a
 * sync key (registered before sync keys were recorded) are left out and counted. The export is audited in
 * the database like a kiosk's listing.
 */
async function exportRegistry(opts: ExportRegistryOptions): Promise<void> {
  const opened = await openRegistry(opts, "has no bands to export");
  const { store } = opened;
  try {
    const nowMs = Date.now();
    const now = Math.floor(nowMs / 1000);
    const listed = await listRegistry(opened, now);
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

interface WriteExportsOptions {
  db: string;
  secrets?: string;
  config?: string;
  out: string;
  json?: boolean;
}

/**
 * `tracelet authority exports write`: the export tree (what `/v1/exports/*` serves) from the database to a
 * directory, for a CDN origin or a one-off. Existing files are compared byte for byte and rewritten when they
 * differ; zips the database no longer holds are removed. Batches are not generated here (the API nodes do that).
 */
async function writeExports(opts: WriteExportsOptions): Promise<void> {
  const out = path.resolve(opts.out);
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) {
    throw new CliError(ExitCode.FILE, `cannot write exports to ${out}: it is not a folder`);
  }
  const opened = await openRegistry(opts, "has no export files");
  const { store, config, secrets } = opened;
  try {
    const now = Math.floor(Date.now() / 1000);
    let r;
    try {
      r = await syncExportDir({
        root: out,
        store,
        indexSince: now - config.exports.retentionDays * 86400,
        signingKeyPem: publicKeyPem(secrets.exportPublicKey),
        signingKeysJson: signingKeysJson(config.exports.keyId, secrets.exportKeys),
        verify: true,
      });
    } catch (e) {
      if (isFileSystemError(e)) throw fileError("write exports to", out, e);
      throw e;
    }
    const info = { out, dir: r.dir, files: r.files, written: r.written, removed: r.removed, listed: r.listed };
    emit(
      opts,
      info,
      () =>
        `wrote ${info.dir}: ${info.files} export file(s) (${info.written} written, ${info.removed} removed), ` +
        `${info.listed} listed in index.txt`,
    );
  } finally {
    await store.close();
  }
}

interface ImportRegistryOptions {
  db: string;
  secrets?: string;
  config?: string;
  in: string;
  json?: boolean;
}

/**
 * `tracelet authority registry import`: registers every band of a registry file the flasher wrote offline, as
 * the flasher would have over POST /api/bands (actor `flasher:import:<file name>`, the same audit entries). The
 * file is checked whole first, and every band against the registry's rules (board, escrow secrets in a
 * private deployment), so a file that cannot be imported changes nothing. A band id already registered with
 * other keys is a conflict: it is left as it is and named, the other bands are imported, and the command
 * fails; importing the same file again is harmless (its bands come back unchanged).
 */
async function importRegistry(opts: ImportRegistryOptions): Promise<void> {
  requireInputFile("--in", opts.in);
  let file;
  try {
    file = loadRegistryFile(path.resolve(opts.in));
  } catch (e) {
    const err = e as RegistryFileError;
    throw new CliError(err.kind === "file" ? ExitCode.FILE : ExitCode.BAD_INPUT, err.message);
  }
  const opened = await openRegistry(opts, "would be gone when the import ends");
  const { store, registry } = opened;
  const actor: Actor = { name: `import:${path.basename(opts.in)}`, role: "flasher" };
  try {
    for (const b of file.bands) {
      try {
        registry.check(actor, b);
      } catch (e) {
        const why =
          e instanceof HttpError && e.code === "escrow_disabled"
            ? `it carries an escrow secret, but this authority runs the private deployment (an escrow authority's --config says "deployment": "escrow")`
            : (e as Error).message;
        throw new CliError(ExitCode.BAD_INPUT, `${opts.in}: band ${b.bandId}: ${why}; nothing was imported`);
      }
    }
    const nowMs = Date.now();
    const now = Math.floor(nowMs / 1000);
    await listRegistry(opened, now);
    const result = { in: path.resolve(opts.in), created: 0, unchanged: 0, updated: 0, conflicts: [] as string[] };
    for (const b of file.bands) {
      let r;
      try {
        r = await registry.register(actor, b, now);
      } catch (e) {
        if (e instanceof HttpError && e.code === "band_exists") {
          result.conflicts.push(b.bandId);
          continue;
        }
        throw new CliError(ExitCode.INTERNAL, `band ${b.bandId}: ${(e as Error).message}`);
      }
      if (r.status === "created") result.created++;
      else if (r.status === "updated") result.updated++;
      else result.unchanged++;
      const entry = registrationAudit(r);
      if (entry) await store.audit({ at: now, actor: `${actor.role}:${actor.name}`, ip: null, ...entry });
    }
    emit(opts, result, () =>
      [
        `${result.in}: ${file.bands.length} band(s): ${result.created} created, ${result.unchanged} unchanged` +
          (result.updated ? `, ${result.updated} given their sync key` : "") +
          `, ${result.conflicts.length} conflict(s)`,
        ...result.conflicts.map((id) => `conflict: band ${id} is already registered with other keys (left as it is)`),
      ].join("\n"),
    );
    if (result.conflicts.length) {
      throw new CliError(
        ExitCode.BAD_INPUT,
        `${result.conflicts.length} band(s) already registered with other keys: ${result.conflicts.join(", ")} (the other bands were imported)`,
      );
    }
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
  const config = cliAuthorityConfig(opts.config);
  const memory = opts.db === ":memory:";
  const postgres = isPostgresUrl(opts.db);
  if (postgres && !config.secretsFile) {
    throw new CliError(
      ExitCode.USAGE,
      "--db postgres://...: set secretsFile in --config (every API node on the database must use the same secrets)",
    );
  }
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
  const store = await openCliStore(memory ? ":memory:" : opts.db);
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
    db: memory ? ":memory:" : postgres ? redactUrl(opts.db) : path.resolve(opts.db),
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

/**
 * The store `--db` names: a SQLite file (resolved against the working directory) or a postgres:// URL. A
 * PostgreSQL server that cannot be reached is a network failure; its URL is shown without the password.
 */
async function openCliStore(db: string): Promise<AuthorityStore> {
  const postgres = isPostgresUrl(db);
  try {
    return await openStore(postgres || db === ":memory:" ? db : path.resolve(db));
  } catch (e) {
    if (postgres) throw new CliError(ExitCode.NETWORK, (e as Error).message);
    throw new CliError(ExitCode.BAD_INPUT, `cannot open database ${db}: ${(e as Error).message}`);
  }
}

interface WorkerOptions {
  db: string;
  secrets?: string;
  config?: string;
  poll: string;
  json?: boolean;
}

/**
 * `tracelet authority worker`: claims pending band logs one at a time and resolves them (f1/worker.ts) until
 * SIGINT/SIGTERM; the log in hand is finished first, then it exits 0. Only escrow deployments have F1 work.
 */
async function worker(opts: WorkerOptions): Promise<void> {
  const poll = parseNumberOption("poll", opts.poll, { min: 0.05, max: 3600 });
  const opened = await openRegistry(opts, "has no band logs to resolve");
  const { store, config } = opened;
  if (config.deployment !== "escrow") {
    await store.close();
    throw new CliError(
      ExitCode.USAGE,
      'F1 resolution needs an escrow deployment (--config with "deployment": "escrow")',
    );
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const db = isPostgresUrl(opts.db) ? redactUrl(opts.db) : path.resolve(opts.db);
  emit(opts, { worker: process.pid, db }, () => `authority worker ${process.pid} resolving band logs in ${db}`);
  let r = { resolved: 0, jobs: 0, planned: 0 };
  try {
    r = await runF1Worker({
      worker: `${os.hostname()}:${process.pid}`,
      store,
      config,
      escrowSealKey: opened.escrowSeal,
      now: () => Math.floor(Date.now() / 1000),
      log,
      idleMs: poll * 1000,
      stop: stop.signal,
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await store.close();
  }
  emit(
    opts,
    { resolved: r.resolved, jobs: r.jobs, planned: r.planned },
    () =>
      `authority worker ${process.pid}: ${r.jobs} F1 job(s) done, ${r.planned} log(s) planned, ` +
      `${r.resolved} log(s) finished`,
  );
}

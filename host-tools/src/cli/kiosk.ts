import { Command } from "commander";
import * as fs from "fs";
import * as path from "path";
import { buildApi } from "../kiosk/api";
import { SyncResult } from "../kiosk/engine";
import { KioskClock, KioskRadio, RadioUnavailable, realRadio, simRadio, worldClock } from "../kiosk/radio";
import { KioskService, KioskServiceOptions } from "../kiosk/service";
import { simSite, SimSite } from "../kiosk/sim-site";
import { ExposureWindowConfig, parseExposureWindowConfig, verificationKeyFromPem } from "../kiosk/exposure";
import { loadRegistryFile } from "../kiosk/registry-file";
import { registryEntry } from "../kiosk/service";
import { loadBoard } from "../boards/load";
import { CliError, ExitCode } from "./exit-codes";
import { authorityOption, requireInputFile } from "./files";
import { parseNumberOption } from "./options";
import { emit, log } from "./output";
import { isLoopback } from "./authority";

interface CommonOptions {
  data: string;
  registry?: string;
  authority?: string;
  apiKeyFile?: string;
  exportKey?: string;
  exposureConfig?: string;
  bluezoneF0?: string;
  sim?: string;
  simBoard: string;
  simHours: string;
  speed: string;
  links: string;
  json?: boolean;
}

interface KioskOptions extends CommonOptions {
  host: string;
  port: string;
  tokenFile?: string;
}

interface SyncOptions extends CommonOptions {
  timeout: string;
}

export const DEFAULT_KIOSK_PORT = 8788;

function common(cmd: Command): Command {
  return cmd
    .option(
      "--data <dir>",
      "kiosk data directory: kiosk.db (SQLite) and kiosk.key (created mode 0600)",
      "tracelet-kiosk",
    )
    .option("--registry <file>", "band registry file (sync keys of the bands this clinic may sync)")
    .option("--authority <url>", "health authority: band registry, diagnosis-key exports, positive uploads")
    .option("--api-key-file <file>", "file holding this kiosk's API key for --authority")
    .option("--export-key <pem>", "the authority's export verification public key (else pinned at first use)")
    .option(
      "--exposure-config <file>",
      "JSON: attenuation thresholds, weights and risk scoring (default: Corona-Warn-App's)",
    )
    .option("--bluezone-f0 <file>", "published Bluezone F0 ids, one hex id per line (re-read at every check)")
    .option("--sim <n>", "no adapter: run on N simulated bands (production bundle) that walk up to the kiosk")
    .option("--sim-board <id>", "board of the simulated bands", "puckjs")
    .option("--sim-hours <h>", "hours the simulated residents spend together before their visit", "2")
    .option("--speed <x>", "simulated time runs this many times faster than the wall clock (with --sim)", "1")
    .option("--links <n>", "bands synced at once", "3")
    .option("--json", "machine output on stdout");
}

/** `tracelet kiosk` (the service) and `tracelet sync <band>` (one band, for technicians): docs/kiosk.md. */
export function registerKiosk(program: Command): void {
  common(
    program
      .command("kiosk")
      .description(
        "clinic kiosk service: find and sync bands over Bluetooth, keep their logs, serve the kiosk page's API",
      ),
  )
    .option("--host <address>", "address the kiosk API listens on", "127.0.0.1")
    .option("--port <n>", "TCP port of the kiosk API; 0 picks a free one", String(DEFAULT_KIOSK_PORT))
    .option("--token-file <file>", "file holding the access token the API requires (needed off loopback)")
    .action(async (opts: KioskOptions) => {
      await kiosk(opts);
    });
  common(
    program
      .command("sync <band>")
      .description("sync one band now (band id, 16 hex digits; with --sim, its number 1..N) and exit"),
  )
    .option("--timeout <s>", "give up when the band is not found and synced within this many seconds", "60")
    .action(async (band: string, opts: SyncOptions) => {
      await syncOne(band, opts);
    });
}

interface Setup {
  radio: KioskRadio;
  clock: KioskClock;
  site?: SimSite;
  options: KioskServiceOptions;
}

async function setup(opts: CommonOptions, visitWindowS?: number): Promise<Setup> {
  const links = parseNumberOption("links", opts.links, { min: 1, max: 8, integer: true });
  const speed = parseNumberOption("speed", opts.speed, { min: 0.1, max: 1000 });
  const n = parseNumberOption("sim", opts.sim, { min: 1, max: 200, integer: true });
  const hours = parseNumberOption("sim-hours", opts.simHours, { min: 0, max: 24 * 7 });
  if (opts.registry) requireInputFile("--registry", opts.registry);
  const registry = opts.registry ? readRegistry(opts.registry) : undefined;
  // Every option and file is checked before any work starts (a simulation takes seconds to build).
  let authority: KioskServiceOptions["authority"];
  if (opts.authority) authority = authorityOption(opts.authority, opts.apiKeyFile, "kiosk");
  let exportKeyPem: string | undefined;
  if (opts.exportKey) {
    requireInputFile("--export-key", opts.exportKey);
    exportKeyPem = fs.readFileSync(opts.exportKey, "utf8");
    try {
      verificationKeyFromPem(exportKeyPem);
    } catch (e) {
      throw new CliError(ExitCode.BAD_INPUT, `--export-key ${opts.exportKey}: ${(e as Error).message}`);
    }
  }
  let config: ExposureWindowConfig | undefined;
  if (opts.exposureConfig) {
    requireInputFile("--exposure-config", opts.exposureConfig);
    try {
      config = parseExposureWindowConfig(JSON.parse(fs.readFileSync(opts.exposureConfig, "utf8")));
    } catch (e) {
      throw new CliError(ExitCode.BAD_INPUT, `--exposure-config ${opts.exposureConfig}: ${(e as Error).message}`);
    }
  }
  let bluezoneF0: (() => string[]) | undefined;
  if (opts.bluezoneF0) {
    const file = opts.bluezoneF0;
    requireInputFile("--bluezone-f0", file);
    const read = () => readF0List(file);
    try {
      read();
    } catch (e) {
      throw new CliError(ExitCode.BAD_INPUT, (e as Error).message);
    }
    bluezoneF0 = read;
  }
  let radio: KioskRadio;
  let clock: KioskClock;
  let site: SimSite | undefined;
  if (n !== undefined) {
    try {
      loadBoard(opts.simBoard);
    } catch (e) {
      throw new CliError(ExitCode.BOARD, (e as Error).message);
    }
    if (!fs.existsSync(path.join(__dirname, "..", "..", "..", "dist", opts.simBoard, "tracelet.js"))) {
      throw new CliError(
        ExitCode.BUILD,
        `no firmware for ${opts.simBoard}: run \`tracelet build --board ${opts.simBoard}\` first`,
      );
    }
    log(`kiosk: simulating ${n} bands (${opts.simBoard}) together for ${hours} h before their visits...`);
    site = simSite({ bands: n, board: opts.simBoard, hours, visitWindowS: visitWindowS ?? 60 + n * 20 });
    site.world.run(hours * 3600);
    radio = simRadio(site.world, site.kiosk);
    clock = worldClock(site.world);
    site.world.startRealtime(speed);
  } else {
    if (!registry && !opts.authority) {
      throw new CliError(
        ExitCode.USAGE,
        "no bands to sync: give --registry <file> or --authority <url> (the bands this clinic may sync), or --sim <N>",
      );
    }
    try {
      radio = realRadio();
    } catch (e) {
      throw new CliError(ExitCode.DEVICE, (e as Error).message);
    }
    clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
  }
  const options: KioskServiceOptions = {
    authority,
    exposure: { exportKeyPem, config, bluezoneF0 },
    dataDir: path.resolve(opts.data),
    radio,
    clock,
    registry: site ? { source: "sim", entries: site.registry } : registry,
    engine: { links },
    log,
  };
  return { radio, clock, site, options };
}

function readRegistry(file: string): KioskServiceOptions["registry"] {
  try {
    const r = loadRegistryFile(file);
    return { source: "file:" + path.resolve(file), entries: r.bands.map(registryEntry) };
  } catch (e) {
    throw new CliError(ExitCode.BAD_INPUT, (e as Error).message);
  }
}

async function startService(s: Setup): Promise<KioskService> {
  let service: KioskService;
  try {
    service = new KioskService(s.options);
  } catch (e) {
    throw new CliError(
      ExitCode.BAD_INPUT,
      `cannot open the kiosk store in ${s.options.dataDir}: ${(e as Error).message}`,
    );
  }
  try {
    await service.start();
  } catch (e) {
    await service.stop().catch(() => undefined);
    s.site?.world.stopRealtime();
    if (e instanceof RadioUnavailable) throw new CliError(ExitCode.DEVICE, e.message);
    throw e;
  }
  return service;
}

async function kiosk(opts: KioskOptions): Promise<void> {
  const port = parseNumberOption("port", opts.port, { min: 0, max: 65535, integer: true });
  let token: string | undefined;
  if (opts.tokenFile) {
    requireInputFile("--token-file", opts.tokenFile);
    token = fs.readFileSync(opts.tokenFile, "utf8").trim();
    if (token.length < 16)
      throw new CliError(ExitCode.BAD_INPUT, `the token in ${opts.tokenFile} is shorter than 16 characters`);
  }
  if (!isLoopback(opts.host) && !token) {
    throw new CliError(ExitCode.USAGE, `the kiosk API on ${opts.host} would be open to the network: give --token-file`);
  }
  const s = await setup(opts);
  const service = await startService(s);
  const api = buildApi(service, token);
  let url: string;
  try {
    url = await api.listen({ host: opts.host, port });
  } catch (e) {
    await service.stop();
    s.site?.world.stopRealtime();
    throw new CliError(ExitCode.NETWORK, `cannot listen on ${opts.host}:${opts.port}: ${(e as Error).message}`);
  }
  emit(
    opts,
    {
      url,
      dataDir: s.options.dataDir,
      registered: service.engine.registered,
      sim: s.site ? s.site.bands.length : null,
    },
    () =>
      `kiosk API on ${url} (data ${s.options.dataDir}, ${service.engine.registered} registered bands${s.site ? ", simulated" : ""})`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      log("kiosk: stopping: finishing the syncs in flight");
      void api
        .close()
        .then(() => service.stop())
        .then(() => {
          s.site?.world.stopRealtime();
          resolve();
        });
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

async function syncOne(band: string, opts: SyncOptions): Promise<void> {
  const timeoutS = parseNumberOption("timeout", opts.timeout, { min: 1, max: 3600 });
  const simBands = parseNumberOption("sim", opts.sim, { min: 1, max: 200, integer: true });
  let bandId = band.toLowerCase();
  const simIndex =
    simBands === undefined ? undefined : parseNumberOption("band", band, { min: 1, max: simBands, integer: true }) - 1;
  if (simIndex === undefined && !/^[0-9a-f]{16}$/.test(bandId)) {
    throw new CliError(ExitCode.USAGE, `band must be a band id (16 hex digits), got "${band}"`);
  }
  // Simulated: everyone comes to the kiosk at once, so the band asked for is there within seconds.
  const s = await setup({ ...opts, links: "1" }, 5);
  if (s.site && simIndex !== undefined) bandId = s.site.registry[simIndex].bandId;
  s.options.engine = { ...s.options.engine, resyncAfterMs: 0, only: bandId };
  const service = await startService(s);
  if (service.client)
    await service
      .refreshRegistry()
      .catch((e: Error) => log(`kiosk: authority unreachable, using the stored registry: ${e.message}`));
  if (!service.store.registry().some((e) => e.bandId === bandId)) {
    await service.stop();
    s.site?.world.stopRealtime();
    throw new CliError(ExitCode.USAGE, `band ${bandId} is not in the registry: this kiosk has no sync key for it`);
  }
  const result = await new Promise<SyncResult | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), (timeoutS * 1000) / Math.max(1, Number(opts.speed)));
    service.engine.on("synced", (r: SyncResult) => {
      if (r.bandId !== bandId) return;
      if (r.ok || service.store.band(bandId)!.failures >= 3) {
        clearTimeout(timer);
        resolve(r);
      }
    });
  });
  await service.stop();
  s.site?.world.stopRealtime();
  if (!result)
    throw new CliError(
      ExitCode.DEVICE,
      `band ${bandId} was not found and synced within ${timeoutS} s: is it in range?`,
    );
  if (!result.ok) throw new CliError(ExitCode.DEVICE, `band ${bandId} did not sync: ${result.error}`);
  emit(
    opts,
    { ...result },
    () =>
      `band ${bandId}: ${result.units} units in ${result.pages} pages stored and acknowledged in ${(result.ms / 1000).toFixed(1)} s` +
      (result.clockSet ? "; clock set" : "") +
      (result.status ? `; battery ${result.status.batteryPercent} %, firmware ${result.status.firmwareVersion}` : ""),
  );
}

/** A Bluezone F0 list: one hex id (12+ digits) per line; blank lines and `#` comments ignored. */
export function readF0List(file: string): string[] {
  const ids: string[] = [];
  fs.readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      const t = line.replace(/#.*/, "").trim();
      if (!t) return;
      if (!/^[0-9a-fA-F]{12,}$/.test(t))
        throw new Error(`${file} line ${i + 1}: not a hex Bluezone id: "${t.slice(0, 40)}"`);
      ids.push(t.toLowerCase());
    });
  return ids;
}

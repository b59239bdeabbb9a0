import { Command } from "commander";
import * as fs from "fs";
import * as path from "path";
import { loadBoard } from "../boards/load";
import { BoardProfile } from "../boards/profile";
import { buildBoard, BuildError } from "../build/build";
import { realRadio, RadioUnavailable, KioskRadio } from "../kiosk/radio";
import { DEFAULT_DEPLOYMENT, Deployment, DeploymentError, loadDeployment } from "../flash/deployment";
import { addDevice, bundlePath, listPorts, PortInfo } from "../flash/espruino-tools";
import { radioHealthCheck } from "../flash/health";
import { BandLabel, labelPayload, terminalQr, writeLabelSheet } from "../flash/labels";
import {
  FlashError,
  flashBand,
  FlashResult,
  firmwareLabel,
  STEP_TITLES,
  StepEvent,
  StepName,
} from "../flash/provision";
import { AuthoritySink, FileSink, RegistryError, RegistrySink } from "../flash/registry";
import { PortStation, SimStation, Station, WatchStation } from "../flash/station";
import { loadRegistryFile } from "../kiosk/registry-file";
import { BluetoothUartPorts, portKind } from "../flash/transports";
import { CliError, ExitCode } from "./exit-codes";
import { authorityOption, prepareOutputFile, requireInputFile } from "./files";
import { parseNumberOption } from "./options";
import { emit, log } from "./output";

interface FlashOptions {
  board?: string;
  port?: string;
  deployment?: string;
  authority?: string;
  apiKeyFile?: string;
  registry?: string;
  dev?: boolean;
  force?: boolean;
  upgrade?: boolean;
  keepNewest?: boolean;
  baud: string;
  list?: boolean;
  batch?: boolean;
  count?: string;
  labels?: string;
  json?: boolean;
}

/** `tracelet flash`: docs/flashing.md. */
export function registerFlash(program: Command): void {
  program
    .command("flash")
    .description("flash and provision bands: firmware, identity and clock, verified, registered, labelled")
    .option("--board <id>", "board profile id (boards/<id>.json): the device must be this board")
    .option(
      "--port <port>",
      "serial port path (/dev/ttyUSB0, COM3), Bluetooth address or name, or `sim` (simulated bands)",
    )
    .option("--deployment <file>", "deployment settings JSON (mode private|escrow, retention, ...; docs/flashing.md)")
    .option("--authority <url>", "register bands with the health authority (needs --api-key-file: a flasher key)")
    .option("--api-key-file <file>", "file holding the flasher's API key for --authority")
    .option("--registry <file>", "offline: append bands to this registry file (created 0600)")
    .option("--dev", "flash the development build (keeps the Bluetooth console)")
    .option("--force", "wipe a band that is already provisioned (its identity and unsynced log are lost)")
    .option(
      "--upgrade",
      "new firmware on a provisioned band keeping its identity, keys and unsynced log (a format-2 log is converted)",
    )
    .option(
      "--keep-newest",
      "with --upgrade: a log over the board's budget keeps its newest records instead of refusing",
    )
    .option("--baud <n>", "serial baud rate", "115200")
    .option("--list", "list serial ports and Espruino/Tracelet devices in Bluetooth range, then exit")
    .option("--batch", "flash bands one after another as they are plugged in or come into range")
    .option("--count <n>", "with --batch: stop after N bands (with --port sim: N simulated bands)")
    .option("--labels <file>", "write a printable label sheet (SVG) for the bands flashed")
    .option("--json", "machine output on stdout")
    .action(async (opts: FlashOptions) => {
      if (opts.list) await list(opts);
      else await flash(opts);
    });
}

async function list(opts: FlashOptions): Promise<void> {
  const ports: PortInfo[] = [];
  let radio: KioskRadio | undefined;
  try {
    radio = realRadio();
    await radio.start();
    const ble = new BluetoothUartPorts(radio);
    await addDevice(ble);
  } catch (e) {
    if (!(e instanceof RadioUnavailable)) throw e;
    radio?.stop();
    radio = undefined;
    log("flash: no Bluetooth LE adapter is available: listing serial ports only");
  }
  try {
    ports.push(...(await listPorts().catch(() => [])));
  } finally {
    radio?.stop();
  }
  emit(opts, { ports }, () =>
    ports.length
      ? ports.map((p) => `${p.path.padEnd(28)} ${p.kind.padEnd(10)} ${p.description}`).join("\n")
      : "no serial ports and no devices in Bluetooth range",
  );
}

interface Plan {
  board: BoardProfile;
  deployment: Deployment;
  registry: RegistrySink;
  bundle: Uint8Array;
  firmware: string;
  baud: number;
  count?: number;
  labels?: string;
}

/** Checks every option and file before any device is touched. */
async function plan(opts: FlashOptions): Promise<Plan> {
  if (!opts.board) throw new CliError(ExitCode.USAGE, "--board <id> is required (tracelet boards lists them)");
  if (!opts.port && !opts.batch)
    throw new CliError(ExitCode.USAGE, "--port is required: a serial port, a Bluetooth address or name, or sim");
  let board: BoardProfile;
  try {
    board = loadBoard(opts.board);
  } catch (e) {
    throw new CliError(ExitCode.BOARD, (e as Error).message);
  }
  const baud = parseNumberOption("baud", opts.baud, { min: 1200, max: 1_000_000, integer: true });
  const count = parseNumberOption("count", opts.count, { min: 1, max: 1000, integer: true });
  if (opts.count && !opts.batch) throw new CliError(ExitCode.USAGE, "--count goes with --batch");
  if (opts.upgrade && opts.force)
    throw new CliError(
      ExitCode.USAGE,
      "give either --upgrade (keeps the band's identity and log) or --force (wipes them)",
    );
  if (opts.keepNewest && !opts.upgrade) throw new CliError(ExitCode.USAGE, "--keep-newest goes with --upgrade");
  if (opts.port === "sim" && opts.batch && count === undefined)
    throw new CliError(ExitCode.USAGE, "--port sim --batch needs --count <n> (how many simulated bands)");
  let deployment = DEFAULT_DEPLOYMENT;
  if (opts.deployment) {
    requireInputFile("--deployment", opts.deployment);
    try {
      deployment = loadDeployment(opts.deployment);
    } catch (e) {
      throw new CliError(ExitCode.BAD_INPUT, (e as DeploymentError).message);
    }
  }
  if (opts.authority && opts.registry)
    throw new CliError(ExitCode.USAGE, "give either --authority or --registry, not both");
  let registry: RegistrySink;
  if (opts.authority) {
    const a = authorityOption(opts.authority, opts.apiKeyFile, "flasher");
    registry = new AuthoritySink(a.url, a.apiKey);
  } else if (opts.registry) {
    registry = new FileSink(path.resolve(opts.registry));
  } else {
    throw new CliError(
      ExitCode.USAGE,
      "every band must be registered: give --authority <url> --api-key-file <file>, or --registry <file> (offline)",
    );
  }
  const labels = opts.labels ? prepareOutputFile(opts.labels, "label sheet") : undefined;
  // The registry must be usable before a band is waited for, let alone written: one line and out if not.
  try {
    await registry.check();
  } catch (e) {
    if (!(e instanceof RegistryError)) throw e;
    const code = { file: ExitCode.FILE, auth: ExitCode.AUTH, network: ExitCode.NETWORK }[e.kind];
    throw new CliError(code, e.message);
  }
  // The bundle that is flashed is the one built for this board and mode (built now if missing or the other mode).
  const bundle = await firmwareFor(board.id, opts.dev === true);
  return { board, deployment, registry, bundle, firmware: firmwareLabel(board.id), baud, count, labels };
}

async function firmwareFor(board: string, dev: boolean): Promise<Uint8Array> {
  const file = bundlePath(board);
  const info = path.join(path.dirname(file), "build.json");
  let built: { dev?: boolean } | undefined;
  try {
    built = JSON.parse(fs.readFileSync(info, "utf8"));
  } catch {
    built = undefined;
  }
  if (!built || built.dev !== dev || !fs.existsSync(file)) {
    log(`flash: building the ${dev ? "development" : "production"} firmware for ${board}...`);
    try {
      await buildBoard(board, { dev, quiet: true });
    } catch (e) {
      throw new CliError(ExitCode.BUILD, (e as BuildError).message);
    }
  }
  return new Uint8Array(fs.readFileSync(file));
}

async function station(opts: FlashOptions, p: Plan): Promise<Station> {
  const kind = opts.port ? portKind(opts.port) : undefined;
  if (kind === "sim") {
    const s = new SimStation(p.board.id, p.count ?? 1, { baud: p.baud });
    await s.start();
    return s;
  }
  if (kind === "serial" && !opts.batch && !fs.existsSync(opts.port as string))
    throw new CliError(
      ExitCode.DEVICE,
      `no serial port ${opts.port}: is the adapter plugged in? (tracelet flash --list shows what is attached)`,
    );
  // Bluetooth: the console over the Nordic UART service, and the health check over the sync service.
  // Production bands are re-flashed as band:<id>, with their sync keys from the registry file.
  const keys = new Map<string, Uint8Array>();
  if (opts.registry && fs.existsSync(opts.registry))
    for (const b of loadRegistryFile(opts.registry).bands) keys.set(b.bandId, Buffer.from(b.syncKey, "hex"));
  const band = /^band:([0-9a-f]{16})$/i.exec(opts.port ?? "")?.[1]?.toLowerCase();
  if (band && !keys.has(band))
    throw new CliError(
      ExitCode.USAGE,
      `band ${band} is not in --registry: re-flashing a production band needs its sync key (tracelet authority registry export writes a file with it)`,
    );
  let radio: KioskRadio | undefined;
  let ble: BluetoothUartPorts | undefined;
  try {
    radio = realRadio();
    await radio.start();
    ble = new BluetoothUartPorts(radio);
    for (const [id, key] of keys) ble.keys.set(id, key);
    await addDevice(ble);
  } catch (e) {
    radio?.stop();
    radio = undefined;
    if (kind === "bluetooth" && e instanceof RadioUnavailable)
      throw new CliError(
        ExitCode.DEVICE,
        `no Bluetooth LE adapter for ${opts.port}: Puck.js, Pixl.js and Bangle.js 2 are flashed over Bluetooth ` +
          "(docs/flashing.md says how to give Node access to the adapter); --port sim flashes simulated bands",
      );
    if (kind === "bluetooth" || !(e instanceof RadioUnavailable))
      throw new CliError(ExitCode.DEVICE, (e as Error).message);
    log(`flash: no Bluetooth adapter: bands are flashed over serial, and their health check over Bluetooth is skipped`);
  }
  const health = radio
    ? radioHealthCheck(radio, { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) })
    : undefined;
  if (opts.batch) {
    const w = new WatchStation(p.count, radio ? { radio } : undefined);
    await w.start();
    return w;
  }
  return new PortStation(opts.port as string, health);
}

async function flash(opts: FlashOptions): Promise<void> {
  const p = await plan(opts);
  const st = await station(opts, p);
  const results: FlashResult[] = [];
  const failures: { port: string; error: string }[] = [];
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    log("flash: stopping after this band (Ctrl-C again to abort)");
    st.drain();
    process.once("SIGINT", () => process.exit(130));
  };
  process.once("SIGINT", onSigint);
  let lastError: FlashError | undefined;
  const pending: Promise<void>[] = [];
  try {
    if (opts.batch) log(`flash: waiting for ${p.board.name} bands${p.count ? ` (${p.count})` : ""}; Ctrl-C to finish`);
    for (let n = 1; ; n++) {
      const port = await st.next();
      if (port === undefined) break;
      const bar = new StepBar(opts.batch ? `[${n}${p.count ? `/${p.count}` : ""}] ${port}` : port);
      try {
        const r = await flashBand({
          port,
          board: p.board,
          bundle: p.bundle,
          firmwareVersion: p.firmware,
          deployment: p.deployment,
          registry: p.registry,
          health: st.health,
          force: opts.force,
          upgrade: opts.upgrade,
          keepNewest: opts.keepNewest,
          baud: p.baud,
          now: () => st.now(),
          onStep: (e) => bar.update(e),
          // A batch flashes the next band while this one's health is checked over Bluetooth.
          healthInBackground: opts.batch === true && st.parallelHealth,
        });
        if (r.healthDone) {
          bar.finish(`band ${r.bandId} flashed in ${r.seconds.total.toFixed(1)} s; checking its health`);
          const label = bar.label;
          pending.push(
            r.healthDone.then((h) => {
              r.health = h;
              log(`${label}: band ${r.bandId} ${healthWord(r)}`);
            }),
          );
        } else bar.finish(`band ${r.bandId} ${healthWord(r)} in ${r.seconds.total.toFixed(1)} s`);
        results.push(r);
      } catch (e) {
        if (!(e instanceof FlashError)) throw e;
        // A single band's failure is the command's one error line (below); a batch goes on and counts it.
        if (opts.batch) bar.finish(`failed: ${e.message}`);
        else bar.finish("failed");
        failures.push({ port, error: e.message });
        lastError = e;
        if (!opts.batch) break;
      }
      if (opts.batch) log(`flash: ${results.length} flashed, ${failures.length} failed`);
      if (interrupted) break;
    }
    await Promise.all(pending);
  } finally {
    process.removeListener("SIGINT", onSigint);
    st.stop();
  }
  const date = new Date(st.now()).toISOString().slice(0, 10);
  const labels: BandLabel[] = results.map((r) => ({
    bandId: r.bandId,
    board: r.board,
    boardName: p.board.name.replace(/\s*\(.*\)$/, ""),
    firmware: r.firmwareVersion,
    date,
    deployment: p.deployment.name,
  }));
  if (p.labels && labels.length) {
    try {
      writeLabelSheet(p.labels, labels, { title: p.deployment.name ?? date });
    } catch (e) {
      throw new CliError(ExitCode.FILE, (e as Error).message);
    }
  }
  const out = {
    bands: results.map((r) => ({ ...r, healthDone: undefined, health: summariseHealth(r) })),
    failures,
    labels: p.labels && labels.length ? p.labels : undefined,
  };
  // The QR code is for a technician's terminal, not for a file or a pipe.
  const qr =
    !opts.json && !opts.batch && results.length === 1 && process.stdout.isTTY
      ? await terminalQr(labelPayload(results[0].bandId))
      : "";
  if (results.length || opts.batch) emit(opts, out, () => human(results, failures, p, qr));
  if (!opts.batch && lastError) throw new CliError(exitFor(lastError), lastError.message);
  if (!opts.batch && results.length === 1 && !results[0].health.ok && !("skipped" in results[0].health))
    throw new CliError(
      ExitCode.DEVICE,
      `band ${results[0].bandId} was flashed and registered but is not healthy: ${(results[0].health as { problems: string[] }).problems.join("; ")}`,
    );
  if (opts.batch && failures.length && results.length === 0)
    throw new CliError(ExitCode.DEVICE, `no band was flashed (${failures.length} failed)`);
}

function exitFor(e: FlashError): number {
  switch (e.kind) {
    case "board":
      return ExitCode.BOARD;
    case "registry":
      return ExitCode.FILE;
    case "auth":
      return ExitCode.AUTH;
    case "network":
      return ExitCode.NETWORK;
    case "usage":
      return ExitCode.USAGE;
    default:
      return ExitCode.DEVICE;
  }
}

function healthWord(r: FlashResult): string {
  const verb = r.upgrade ? `upgraded (${upgradeWords(r.upgrade)})` : "flashed";
  if ("skipped" in r.health) return `${verb} (health check skipped)`;
  return r.health.ok ? `${verb} and healthy` : `${verb}, NOT healthy (${r.health.problems.join("; ")})`;
}

function upgradeWords(u: NonNullable<FlashResult["upgrade"]>): string {
  if (u.logFormat === 3) return "identity, keys and log kept";
  const parts = [`${u.carried} unsynced records carried over to log format 3`, `${u.leftBehind} synced left behind`];
  if (u.dropped) parts.push(`${u.dropped} oldest unsynced left out to fit the budget`);
  if (u.torn) parts.push(`${u.torn} torn units skipped`);
  return parts.join(", ");
}

function summariseHealth(r: FlashResult): unknown {
  const h = r.health;
  if ("skipped" in h) return { ok: false, skipped: h.skipped };
  return { ok: h.ok, problems: h.problems, seconds: h.seconds, status: h.status };
}

function human(results: FlashResult[], failures: { port: string; error: string }[], p: Plan, qr: string): string {
  const lines: string[] = [];
  for (const r of results)
    lines.push(
      `band ${r.bandId}  ${p.board.name}  firmware ${r.firmwareVersion}  ${r.mode}  registered in ${r.registeredIn}  ${healthWord(r)}`,
    );
  for (const f of failures) lines.push(`FAILED ${f.port}: ${f.error}`);
  if (results.length > 1 || failures.length) lines.push(`${results.length} band(s) flashed, ${failures.length} failed`);
  if (p.labels && results.length) lines.push(`labels: ${p.labels}`);
  if (qr) lines.push(qr.trimEnd());
  return lines.join("\n");
}

/** One line per band on stderr: the step and its progress bar, redrawn in place on a terminal. */
class StepBar {
  private tty = process.stderr.isTTY === true;
  private last = "";
  private step: StepName | undefined;
  private index = 0;

  constructor(readonly label: string) {}

  update(e: StepEvent): void {
    if (e.step !== this.step) {
      this.step = e.step;
      this.index = (Object.keys(STEP_TITLES) as StepName[]).indexOf(e.step) + 1;
      if (!this.tty) log(`${this.label}: ${STEP_TITLES[e.step]}${e.detail ? ` (${e.detail})` : ""}`);
    }
    if (!this.tty) return;
    const width = 24;
    const filled = Math.round(e.fraction * width);
    const line = `${this.label} [${this.index}/${Object.keys(STEP_TITLES).length}] ${STEP_TITLES[e.step].padEnd(28)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${Math.round(
      e.fraction * 100,
    )
      .toString()
      .padStart(3)}%`;
    if (line !== this.last) process.stderr.write(`\r${line}`);
    this.last = line;
  }

  finish(text: string): void {
    if (this.tty) process.stderr.write(`\r\x1b[K${this.label}: ${text}\n`);
    else log(`${this.label}: ${text}`);
  }
}

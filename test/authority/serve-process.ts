import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { listening, spawnServe } from "../../host-tools/src/bench/sections/authority-load";

/** A real `tracelet authority serve` process on loopback, for tests that crash, kill or fuzz it. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  port: number;
  secretsFile: string;
  adminKey: string;
  kioskKey: string;
  flasherKey: string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string | null>;
  alive(): boolean;
}

/** `configFile`: where the config is written (beside a SQLite file by default; give one for a postgres:// URL). */
export async function serveProcess(
  db: string,
  config: Record<string, unknown>,
  configFile = db + ".config.json",
): Promise<ServeProcess> {
  fs.writeFileSync(configFile, JSON.stringify(config));
  const child = spawnServe(db, configFile, "pipe");
  let stderr = "";
  child.stderr!.on("data", (c) => (stderr = (stderr + c).slice(-20000)));
  const exited = new Promise<number | string | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal)),
  );
  const info = (await listening(child).catch((e: Error) => {
    throw new Error(`${e.message}; stderr: ${stderr}`);
  })) as { url: string; port?: number; secretsFile: string };
  const secrets = JSON.parse(fs.readFileSync(info.secretsFile, "utf8")) as { apiKeys: { role: string; key: string }[] };
  const key = (role: string) => secrets.apiKeys.find((k) => k.role === role)!.key;
  return {
    child,
    url: info.url,
    port: Number(new URL(info.url).port),
    secretsFile: info.secretsFile,
    adminKey: key("admin"),
    kioskKey: key("kiosk"),
    flasherKey: key("flasher"),
    stderr: () => stderr,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

/** A real `tracelet authority worker` process (F1 jobs), for tests that kill it. */
export interface WorkerProcess {
  child: ChildProcess;
  /** How it names itself on the jobs it holds (f1_jobs.worker). */
  name: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | string | null>;
  alive(): boolean;
  /** Stops it with SIGTERM; resolves with its `--json` stop line ({resolved, jobs, planned}). */
  stop(): Promise<{ resolved: number; jobs: number; planned: number }>;
}

/** Starts a worker on `db` with the API nodes' secrets and config files; resolves once it says it runs. */
export async function workerProcess(db: string, secretsFile: string, configFile: string): Promise<WorkerProcess> {
  const cli = path.join(__dirname, "..", "..", "host-tools", "bin", "tracelet.js");
  const args = [cli, "authority", "worker", "--db", db, "--secrets", secretsFile, "--config", configFile];
  const child = spawn(process.execPath, [...args, "--json", "--poll", "0.1"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (err = (err + c).slice(-20000)));
  const exited = new Promise<number | string | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal)),
  );
  for (let i = 0; !out.includes("}"); i++) {
    if (i > 1200 || child.exitCode !== null) throw new Error(`authority worker did not start; stderr: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    name: `${os.hostname()}:${child.pid}`,
    stdout: () => out,
    stderr: () => err,
    exited,
    alive,
    stop: async () => {
      if (alive()) child.kill("SIGTERM");
      await exited;
      const last = out.slice(out.lastIndexOf("{"));
      return JSON.parse(last) as { resolved: number; jobs: number; planned: number };
    },
  };
}

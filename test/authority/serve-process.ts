import { ChildProcess } from "child_process";
import * as fs from "fs";
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

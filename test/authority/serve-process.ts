import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../helpers/paths";

/** A real `tracelet authority serve` process on loopback, for tests that crash, kill or fuzz it. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  port: number;
  secretsFile: string;
  adminKey: string;
  kioskKey: string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string | null>;
  alive(): boolean;
}

export async function serveProcess(db: string, config: Record<string, unknown>): Promise<ServeProcess> {
  const configFile = db + ".config.json";
  fs.writeFileSync(configFile, JSON.stringify(config));
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, "host-tools", "bin", "tracelet.js"),
      "authority",
      "serve",
      "--db",
      db,
      "--port",
      "0",
      "--config",
      configFile,
      "--json",
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c) => (stdout += c));
  child.stderr!.on("data", (c) => (stderr = (stderr + c).slice(-20000)));
  const exited = new Promise<number | string | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal)),
  );
  const info = await new Promise<{ url: string; port: number; secretsFile: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no listening line; stderr: " + stderr)), 30000);
    child.stdout!.on("data", () => {
      try {
        const v = JSON.parse(stdout);
        clearTimeout(timer);
        resolve(v);
      } catch {
        // not complete yet
      }
    });
    child.on("exit", () => {
      clearTimeout(timer);
      reject(new Error("exited early: " + stderr));
    });
  });
  const secrets = JSON.parse(fs.readFileSync(info.secretsFile, "utf8")) as { apiKeys: { role: string; key: string }[] };
  const key = (role: string) => secrets.apiKeys.find((k) => k.role === role)!.key;
  return {
    child,
    url: info.url,
    port: info.port,
    secretsFile: info.secretsFile,
    adminKey: key("admin"),
    kioskKey: key("kiosk"),
    stderr: () => stderr,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

import { spawnSync } from "child_process";
import * as path from "path";
import { ROOT } from "./paths";

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `tracelet` entry point as a user would (node host-tools/bin/tracelet.js ...). */
export function runCli(
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): CliResult {
  const r = spawnSync(process.execPath, [path.join(ROOT, "host-tools", "bin", "tracelet.js"), ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: "utf8",
    input: opts.input,
    env: { ...process.env, ...opts.env },
    timeout: opts.timeoutMs ?? 120000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runCli } from "../helpers/cli";
import { ROOT } from "../helpers/paths";

/** `tracelet authority serve` as an operator runs it. */
describe("tracelet authority serve", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-authority-cli-"));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("starts on an ephemeral port, creates a 0600 secrets file, answers, stops on SIGTERM", async () => {
    const db = path.join(dir, "auth.db");
    const config = path.join(dir, "config.json");
    fs.writeFileSync(config, JSON.stringify({ deployment: "escrow", region: "VN" }));
    const server = await serve(["--db", db, "--config", config]);
    try {
      const info = server.info as { url: string; deployment: string; secretsFile: string };
      expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(info.deployment).toBe("escrow");
      expect(fs.statSync(info.secretsFile).mode & 0o777).toBe(0o600);
      const health = await (await fetch(info.url + "/healthz")).json();
      expect(health).toEqual({ ok: true, deployment: "escrow", region: "VN" });
      const secrets = JSON.parse(fs.readFileSync(info.secretsFile, "utf8"));
      const admin = secrets.apiKeys.find((k: { role: string }) => k.role === "admin").key;
      expect((await issueCode(info.url, admin)).status).toBe(200);
      expect(server.stderr()).toContain("generated server key");
      expect(server.stderr()).toContain("escrow deployment");
      expect(server.stderr()).not.toContain(admin);
    } finally {
      server.child.kill("SIGTERM");
    }
    expect(await server.exited).toBe(0);
  });

  test("--db :memory: prints its throw-away API keys on stderr, and they work", async () => {
    const server = await serve(["--db", ":memory:"]);
    try {
      const keys = Object.fromEntries(
        [...server.stderr().matchAll(/^authority: +(admin|kiosk|flasher) +(\S+)$/gm)].map((m) => [m[1], m[2]]),
      );
      expect(Object.keys(keys).sort()).toEqual(["admin", "flasher", "kiosk"]);
      expect((await issueCode(server.info.url, keys.admin)).status).toBe(200);
      expect((await issueCode(server.info.url, "not-a-key")).status).toBe(401);
      expect(server.info.secretsFile).toBeNull();
    } finally {
      server.child.kill("SIGTERM");
    }
    expect(await server.exited).toBe(0);
  });

  test.each([
    [["--port", "70000"], 2, "--port"],
    [["--tls-cert", "x.pem"], 2, "--tls-key"],
    [["--config", "/nonexistent/config.json"], 10, "--config: cannot read /nonexistent/config.json"],
  ])("refuses %j", (args, code, message) => {
    const r = runCli(["authority", "serve", "--db", ":memory:", ...args]);
    expect(r.status).toBe(code);
    expect(r.stderr).toContain(message);
  });

  test("refuses an invalid config with the field named", () => {
    const config = path.join(dir, "bad.json");
    fs.writeFileSync(config, JSON.stringify({ deployment: "central", exposure: { closeContactMinutes: -1 } }));
    const r = runCli(["authority", "serve", "--db", ":memory:", "--config", config]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/deployment/);
    expect(r.stderr).toMatch(/exposure\.closeContactMinutes/);
  });
});

/** `tracelet authority serve --port 0 --json` plus `args`, once it prints where it listens. */
async function serve(args: string[]) {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, "host-tools", "bin", "tracelet.js"), "authority", "serve", "--port", "0", "--json", ...args],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const info = await new Promise<{ url: string; secretsFile: string | null }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no listening line; stderr: " + stderr)), 30000);
    child.stdout.on("data", () => {
      try {
        const v = JSON.parse(stdout);
        clearTimeout(timer);
        resolve(v);
      } catch {
        // not complete yet
      }
    });
    child.on("exit", () => reject(new Error("exited early: " + stderr)));
  });
  return { child, info, exited, stderr: () => stderr };
}

function issueCode(url: string, apiKey: string): Promise<Response> {
  return fetch(url + "/api/issue", {
    method: "POST",
    headers: { "x-api-key": apiKey, "content-type": "application/json" },
    body: "{}",
  });
}

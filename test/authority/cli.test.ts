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
        config,
        "--json",
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const info = await new Promise<{ url: string; deployment: string; secretsFile: string }>((resolve, reject) => {
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
      expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(info.deployment).toBe("escrow");
      expect(fs.statSync(info.secretsFile).mode & 0o777).toBe(0o600);
      const health = await (await fetch(info.url + "/healthz")).json();
      expect(health).toEqual({ ok: true, deployment: "escrow", region: "VN" });
      const secrets = JSON.parse(fs.readFileSync(info.secretsFile, "utf8"));
      const admin = secrets.apiKeys.find((k: { role: string }) => k.role === "admin").key;
      const issue = await fetch(info.url + "/api/issue", {
        method: "POST",
        headers: { "x-api-key": admin, "content-type": "application/json" },
        body: "{}",
      });
      expect(issue.status).toBe(200);
      expect(stderr).toContain("generated server key");
      expect(stderr).toContain("escrow deployment");
      expect(stderr).not.toContain(admin);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });

  test.each([
    [["--port", "70000"], 2, "--port"],
    [["--tls-cert", "x.pem"], 2, "--tls-key"],
    [["--config", "/nonexistent/config.json"], 3, "cannot read config"],
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

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runCli } from "../helpers/cli";

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "tl-kcli-"));
}

/** `tracelet kiosk` and `tracelet sync` as a technician runs them (the real entry point, simulated bands). */
describe("tracelet kiosk / sync CLI", () => {
  test("sync one simulated band: JSON result on stdout, exit 0", () => {
    const dir = tempDir();
    const r = runCli(["sync", "2", "--sim", "3", "--sim-hours", "1", "--speed", "20", "--data", dir, "--json"]);
    expect(r.stderr).not.toMatch(/exit \d/);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; bandId: string; status: { firmwareVersion: number } };
    expect(out.ok).toBe(true);
    expect(out.status.firmwareVersion).toBe(3);
    // Its store now holds that band.
    expect(fs.existsSync(path.join(dir, "kiosk.db"))).toBe(true);
    expect(fs.statSync(path.join(dir, "kiosk.key")).mode & 0o077).toBe(0);
  }, 120_000);

  test("mistakes get one line and a named exit code", () => {
    const dir = tempDir();
    const none = runCli(["kiosk", "--data", dir]);
    expect(none.status).toBe(2);
    expect(none.stderr.trim()).toMatch(
      /^tracelet kiosk: no bands to sync: give --registry <file> or --authority <url>.* \(exit 2 USAGE\)$/,
    );
    const open = runCli(["kiosk", "--sim", "1", "--host", "0.0.0.0", "--data", dir]);
    expect(open.status).toBe(2);
    expect(open.stderr).toMatch(/would be open to the network: give --token-file/);
    const badBand = runCli(["sync", "xyz", "--registry", "/nonexistent.json", "--data", dir]);
    expect(badBand.status).not.toBe(0);
    expect(badBand.stderr.trim().split("\n")).toHaveLength(1);
    const noKey = runCli(["kiosk", "--authority", "http://127.0.0.1:9", "--data", dir]);
    expect(noKey.stderr).toMatch(/--authority needs --api-key-file/);
  });

  test("no Bluetooth adapter: one line that says what to do, exit 6 DEVICE", () => {
    const dir = tempDir();
    const reg = path.join(dir, "registry.json");
    fs.writeFileSync(
      reg,
      JSON.stringify({ version: 1, kind: "tracelet-band-registry", exportedAt: "2026-11-30T00:00:00Z", bands: [] }),
      { mode: 0o600 },
    );
    const r = runCli(["kiosk", "--registry", reg, "--data", path.join(dir, "k")], { timeoutMs: 60_000 });
    expect(r.status).toBe(6);
    const line = r.stderr.trim().split("\n").pop() as string;
    expect(line).toMatch(/^tracelet kiosk: .*not available.*--sim <N>.* \(exit 6 DEVICE\)$/);
  }, 60_000);
});

import { execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { crc32 } from "zlib";
import { decodeProvisioning, PROVISIONING_FILE } from "../../firmware/src/protocol/provisioning";
import { loadBoard } from "../../host-tools/src/boards/load";
import { silenced } from "../../host-tools/src/flash/espruino-tools";
import { FlashError, flashBand } from "../../host-tools/src/flash/provision";
import { BandRecord, FileSink, RegistryError, RegistrySink } from "../../host-tools/src/flash/registry";
import { SimStation } from "../../host-tools/src/flash/station";
import { builtBundle, simFlashOptions } from "./helpers";
import { loadRegistryFile } from "../../host-tools/src/kiosk/registry-file";
import type { EspruinoDevice } from "../../host-tools/src/sim/device";

/**
 * The flasher on simulated bands fresh from the box: the production bundle goes over a simulated USB serial port
 * (115200 baud) through the npm `espruino` package, is verified by CRC-32 read back from the band, registered,
 * restarted, and the band answers over the simulated Bluetooth sync service with its new key.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const CLI = path.join(ROOT, "host-tools", "bin", "tracelet.js");
const run = promisify(execFile);
jest.setTimeout(180_000);

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-flash-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function deviceOf(st: SimStation, port: string): EspruinoDevice {
  const d = st.world.devices.find((x) => `sim:${x.name}` === port);
  if (!d) throw new Error(`no device for ${port}`);
  return d as EspruinoDevice;
}

function files(d: EspruinoDevice): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const n of d.storage.list()) out[n] = Buffer.from(d.storage.read(n) as Uint8Array);
  return out;
}

test("tracelet flash --port sim --batch: two bands flashed, verified, registered, healthy, labelled; no secret printed", async () => {
  const reg = path.join(dir, "batch.json");
  const labels = path.join(dir, "batch.svg");
  const { stdout, stderr } = await run(
    process.execPath,
    [
      CLI,
      "flash",
      "--board",
      "mdbt42q",
      "--port",
      "sim",
      "--batch",
      "--count",
      "2",
      "--registry",
      reg,
      "--labels",
      labels,
      "--json",
    ],
    { cwd: dir },
  );
  const out = JSON.parse(stdout) as {
    bands: { bandId: string; board: string; health: { ok: boolean }; bundleCrc32: number }[];
    failures: unknown[];
  };
  expect(out.failures).toEqual([]);
  expect(out.bands).toHaveLength(2);
  for (const band of out.bands) {
    expect(band.health.ok).toBe(true);
    expect(band.bundleCrc32).toBe(crc32(builtBundle("mdbt42q")));
  }
  // The registry file holds both bands with distinct sync keys; no key is in any output.
  const registry = loadRegistryFile(reg);
  expect(registry.bands.map((b) => b.bandId).sort()).toEqual(out.bands.map((b) => b.bandId).sort());
  expect(new Set(registry.bands.map((b) => b.syncKey)).size).toBe(2);
  for (const b of registry.bands) {
    expect(stdout + stderr).not.toContain(b.syncKey);
    expect(stdout + stderr).not.toContain(b.syncKey.toUpperCase());
  }
  expect(fs.statSync(reg).mode & 0o777).toBe(0o600);
  const sheet = fs.readFileSync(labels, "utf8");
  for (const b of out.bands) expect(sheet).toContain(b.bandId.slice(0, 4).toUpperCase());
  // Every step was reported on stderr, with the running count.
  for (const s of ["Identifying", "Writing the firmware", "Registering", "flashed and healthy", "2 flashed, 0 failed"])
    expect(stderr).toContain(s);
});

test("an already provisioned band is refused untouched; --force wipes it and gives it a new identity", async () => {
  const st = new SimStation("mdbt42q", 1, { seed: 9 });
  await st.start();
  const reg = new FileSink(path.join(dir, "force.json"));
  try {
    const port = (await st.next()) as string;
    const first = await flashBand(simFlashOptions(st, port, reg, { health: undefined }));
    expect(first.health).toEqual({ ok: false, skipped: expect.stringMatching(/no Bluetooth/) });
    const d = deviceOf(st, port);
    // Let the band log and journal something of its own.
    await new Promise((r) => setTimeout(r, 1500));
    const before = files(d);
    await expect(flashBand(simFlashOptions(st, port, reg))).rejects.toThrow(
      new RegExp(`already provisioned as band ${first.bandId}: use --force`),
    );
    const after = files(d);
    expect(after[PROVISIONING_FILE].equals(before[PROVISIONING_FILE])).toBe(true);
    expect(after[".bootcde"].equals(before[".bootcde"])).toBe(true);
    const second = await flashBand(simFlashOptions(st, port, reg, { force: true }));
    expect(second.wiped).toBe(true);
    expect(second.bandId).not.toBe(first.bandId);
    expect(second.health.ok).toBe(true);
    const prov = decodeProvisioning(new Uint8Array(files(d)[PROVISIONING_FILE]));
    expect(prov.ok && Buffer.from(prov.value.bandId).toString("hex")).toBe(second.bandId);
  } finally {
    st.stop();
  }
});

test("a registry that refuses the band leaves it unprovisioned; a wrong board and a full Storage are refused untouched", async () => {
  const st = new SimStation("mdbt42q", 3, { seed: 11 });
  await st.start();
  try {
    // 1. The registry fails at the moment of registering: the identity just written is erased again.
    const refusing: RegistrySink = {
      where: "a registry that fails",
      check: async () => undefined,
      taken: async () => false,
      add: async (r: BandRecord) => {
        throw new RegistryError(`the disk is full (band ${r.bandId})`, "file");
      },
    };
    const p1 = (await st.next()) as string;
    const err = (await flashBand(simFlashOptions(st, p1, refusing)).catch((e) => e)) as FlashError;
    expect(err).toBeInstanceOf(FlashError);
    expect(err.message).toMatch(/the disk is full .*left unprovisioned/);
    expect(files(deviceOf(st, p1))[PROVISIONING_FILE]).toBeUndefined();

    // 2. The wrong board: refused before anything is written.
    const p2 = (await st.next()) as string;
    const d2 = deviceOf(st, p2);
    const reg = new FileSink(path.join(dir, "refused.json"));
    await expect(flashBand({ ...simFlashOptions(st, p2, reg), board: loadBoard("puckjs") })).rejects.toThrow(
      /is a MDBT42Q, not a Puck\.js .*: pick --board mdbt42q to match it$/,
    );
    expect(Object.keys(files(d2))).toEqual([]);

    // 3. Storage too small: another program's data fills it; nothing is written.
    const p3 = (await st.next()) as string;
    const d3 = deviceOf(st, p3);
    d3.storage.write("photos", new Uint8Array(d3.storage.getFree() - 8000).fill(7), 0, 0);
    await expect(flashBand(simFlashOptions(st, p3, reg))).rejects.toThrow(/Storage too small .*needs \d+ bytes/);
    expect(Object.keys(files(d3))).toEqual(["photos"]);
    // Nothing was registered, and a failed run leaves no registry file behind.
    expect(fs.existsSync(path.join(dir, "refused.json"))).toBe(false);

    // 4. An Espruino older than the firmware supports: refused untouched.
    d2.evaluate('process.env.VERSION="2v21"');
    await expect(flashBand(simFlashOptions(st, p2, reg))).rejects.toThrow(
      /runs Espruino 2v21; Tracelet needs 2v29 or later/,
    );
    expect(Object.keys(files(d2))).toEqual([]);

    // 5. A registry that knows every identity drawn: no identity is ever reused, nothing is written.
    const asked: string[] = [];
    const full: RegistrySink = {
      where: "a registry that knows them all",
      check: async () => undefined,
      taken: async (r: BandRecord) => {
        asked.push(r.bandId + r.syncKey);
        return true;
      },
      add: async () => undefined,
    };
    d2.evaluate('process.env.VERSION="2v29"');
    await expect(flashBand(simFlashOptions(st, p2, full))).rejects.toThrow(/could not draw an identity/);
    expect(new Set(asked).size).toBe(5);
    expect(Object.keys(files(d2))).toEqual([]);
  } finally {
    st.stop();
  }
});

test("puckjs-minimal: a Puck.js still on the standard firmware is refused untouched, with the way out; on puckjs_minimal it is flashed and reports its board", async () => {
  const standard = new SimStation("puckjs", 1, { seed: 15 });
  await standard.start();
  try {
    const port = (await standard.next()) as string;
    const d = standard.world.devices[standard.world.devices.length - 1] as EspruinoDevice;
    const minimal = loadBoard("puckjs-minimal");
    await expect(
      flashBand({
        ...simFlashOptions(standard, port, new FileSink(path.join(dir, "standard.json"))),
        board: minimal,
        bundle: builtBundle(minimal.id),
      }),
    ).rejects.toThrow(
      /is a PUCKJS, not a Puck\.js on puckjs_minimal firmware .*\(PUCKJS_MINIMAL\): pick --board puckjs to match it, or install Espruino's PUCKJS_MINIMAL firmware on it first/,
    );
    expect(Object.keys(files(d))).toEqual([]);
  } finally {
    standard.stop();
  }
  const st = new SimStation("puckjs-minimal", 1, { seed: 16 });
  await st.start();
  try {
    const port = (await st.next()) as string;
    const r = await flashBand(simFlashOptions(st, port, new FileSink(path.join(dir, "minimal.json"))));
    expect(r.health.ok).toBe(true);
    expect(r.bundleCrc32).toBe(crc32(builtBundle("puckjs-minimal")));
    // Board code 5 (protocol/sync.ts BOARD_CODES): the health check compared it with the profile.
    expect(r.health).toMatchObject({ status: { boardCode: 5 } });
    expect(loadRegistryFile(path.join(dir, "minimal.json")).bands[0].board).toBe("puckjs-minimal");
  } finally {
    st.stop();
  }
});

test("Ctrl-C during a batch finishes the band in progress, then stops", async () => {
  const reg = path.join(dir, "interrupted.json");
  const child = spawn(
    process.execPath,
    [CLI, "flash", "--board", "mdbt42q", "--port", "sim", "--batch", "--count", "3", "--registry", reg, "--json"],
    { cwd: dir },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => {
    stderr += d;
    if (/Writing the firmware/.test(stderr) && !child.killed) child.kill("SIGINT");
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  expect(stderr).toContain("stopping after this band");
  expect(code).toBe(0);
  const out = JSON.parse(stdout) as { bands: { bandId: string; health: { ok: boolean } }[]; failures: unknown[] };
  expect(out.failures).toEqual([]);
  expect(out.bands).toHaveLength(1);
  expect(out.bands[0].health.ok).toBe(true);
  expect(loadRegistryFile(reg).bands.map((b) => b.bandId)).toEqual([out.bands[0].bandId]);
});

test("tracelet flash --list: serial ports and, without a Bluetooth adapter, says so", async () => {
  const { stdout, stderr } = await run(process.execPath, [CLI, "flash", "--list", "--json"], { cwd: dir });
  expect(JSON.parse(stdout)).toEqual({ ports: expect.any(Array) });
  expect(stderr).toMatch(/listing serial ports only/);
});

test("over Bluetooth (Puck.js): flashed through the Nordic UART console; re-flashed as a production band via the maintenance command", async () => {
  const st = new SimStation("puckjs", 1, { seed: 13 });
  await st.start();
  expect(st.transport).toBe("bluetooth");
  const reg = new FileSink(path.join(dir, "ble.json"));
  const printedBefore = silenced.lines;
  try {
    const name = (await st.next()) as string;
    expect(name).toMatch(/^Puck\.js [0-9a-f]{4}$/);
    const first = await flashBand(simFlashOptions(st, name, reg, { health: undefined }));
    const d = st.world.devices[st.world.devices.length - 1] as EspruinoDevice;
    expect(Buffer.compare(files(d)[".bootcde"], Buffer.from(builtBundle("puckjs")))).toBe(0);
    // Production firmware, provisioned: no console over Bluetooth any more, and its name rotates.
    await expect(flashBand(simFlashOptions(st, name, reg, { force: true }))).rejects.toThrow(
      /no device answered on Puck\.js [0-9a-f]{4}: cannot open Puck\.js [0-9a-f]{4}: (connecting timed out|not heard)/,
    );
    // With its sync key the flasher asks the band (authenticated) to open its console until its next restart.
    const entry = loadRegistryFile(path.join(dir, "ble.json")).bands[0];
    const ble = st.bluetooth as NonNullable<typeof st.bluetooth>;
    ble.keys.set(entry.bandId, Buffer.from(entry.syncKey, "hex"));
    const second = await flashBand(simFlashOptions(st, `band:${entry.bandId}`, reg, { force: true }));
    expect(second.wiped).toBe(true);
    expect(second.bandId).not.toBe(first.bandId);
    expect(second.health.ok).toBe(true);
    const prov = decodeProvisioning(new Uint8Array(files(d)[PROVISIONING_FILE]));
    expect(prov.ok && Buffer.from(prov.value.bandId).toString("hex")).toBe(second.bandId);
    // A wrong key cannot open it.
    ble.keys.set(second.bandId, new Uint8Array(16).fill(1));
    await expect(flashBand(simFlashOptions(st, `band:${second.bandId}`, reg, { force: true }))).rejects.toThrow();
    expect(decodeProvisioning(new Uint8Array(files(d)[PROVISIONING_FILE])).ok).toBe(true);
    // The espruino package logs every byte it sends (the provisioning record too): all of it was dropped.
    expect(silenced.lines).toBeGreaterThan(printedBefore + 100);
  } finally {
    st.stop();
  }
});

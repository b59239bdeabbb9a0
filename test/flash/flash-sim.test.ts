import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { crc32 } from "zlib";
import { decodeProvisioning, PROVISIONING_FILE } from "../../firmware/src/protocol/provisioning";
import { loadBoard } from "../../host-tools/src/boards/load";
import { DEFAULT_DEPLOYMENT } from "../../host-tools/src/flash/deployment";
import { silenced } from "../../host-tools/src/flash/espruino-tools";
import { firmwareLabel, FlashError, flashBand, FlashOptions } from "../../host-tools/src/flash/provision";
import { BandRecord, FileSink, RegistryError, RegistrySink } from "../../host-tools/src/flash/registry";
import { SimStation } from "../../host-tools/src/flash/station";
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

function bundle(board: string): Uint8Array {
  return new Uint8Array(fs.readFileSync(path.join(ROOT, "dist", board, "tracelet.js")));
}

function options(
  st: SimStation,
  port: string,
  registry: RegistrySink,
  extra: Partial<FlashOptions> = {},
): FlashOptions {
  return {
    port,
    board: loadBoard(st.board),
    bundle: bundle(st.board),
    firmwareVersion: firmwareLabel(st.board),
    deployment: DEFAULT_DEPLOYMENT,
    registry,
    health: st.health,
    now: () => st.now(),
    ...extra,
  };
}

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

test("tracelet flash --port sim: one band flashed, verified, registered, healthy, labelled; no secret printed", async () => {
  const reg = path.join(dir, "one.json");
  const labels = path.join(dir, "one.svg");
  const before = silenced.lines;
  const { stdout, stderr } = await run(
    process.execPath,
    [CLI, "flash", "--board", "puckjs", "--port", "sim", "--registry", reg, "--labels", labels, "--json"],
    { cwd: dir },
  );
  const out = JSON.parse(stdout) as {
    bands: {
      bandId: string;
      board: string;
      attempts: { firmware: number };
      health: { ok: boolean };
      bundleCrc32: number;
    }[];
    failures: unknown[];
  };
  expect(out.failures).toEqual([]);
  expect(out.bands).toHaveLength(1);
  const band = out.bands[0];
  expect(band.health.ok).toBe(true);
  expect(band.bundleCrc32).toBe(crc32(bundle("puckjs")));
  // The registry file holds the band with its sync key; the key is in no output.
  const registry = loadRegistryFile(reg);
  expect(registry.bands.map((b) => b.bandId)).toEqual([band.bandId]);
  const key = registry.bands[0].syncKey;
  expect(stdout + stderr).not.toContain(key);
  expect(stdout + stderr).not.toContain(key.toUpperCase());
  expect(fs.statSync(reg).mode & 0o777).toBe(0o600);
  expect(fs.readFileSync(labels, "utf8")).toContain(band.bandId.slice(0, 4).toUpperCase());
  // Every step was reported on stderr.
  for (const s of ["Identifying", "Writing the firmware", "Registering", "Checking the band's health"])
    expect(stderr).toContain(s);
  expect(silenced.lines).toBe(before); // (the CLI ran in its own process)
});

test("a batch of two: distinct identities, both healthy, the band's Storage holds exactly the flashed bytes", async () => {
  const st = new SimStation("mdbt42q", 2, { seed: 7 });
  await st.start();
  const reg = new FileSink(path.join(dir, "batch.json"));
  const seen: string[] = [];
  try {
    for (let port = await st.next(); port; port = await st.next()) {
      const r = await flashBand(options(st, port, reg));
      expect(r.health.ok).toBe(true);
      seen.push(r.bandId);
      const f = files(deviceOf(st, port));
      expect(Buffer.compare(f[".bootcde"], Buffer.from(bundle("mdbt42q")))).toBe(0);
      const prov = decodeProvisioning(new Uint8Array(f[PROVISIONING_FILE]));
      if (!prov.ok) throw new Error(prov.error);
      expect(Buffer.from(prov.value.bandId).toString("hex")).toBe(r.bandId);
      const entry = loadRegistryFile(path.join(dir, "batch.json")).bands.find((b) => b.bandId === r.bandId);
      expect(entry?.syncKey).toBe(Buffer.from(prov.value.syncKey).toString("hex"));
      // The clock was set over the console and vouched for by the record.
      expect(prov.value.flags & 1).toBe(1);
      expect(Math.abs(prov.value.provisionedAt - st.now() / 1000)).toBeLessThan(60);
    }
  } finally {
    st.stop();
  }
  expect(new Set(seen).size).toBe(2);
  const keys = loadRegistryFile(path.join(dir, "batch.json")).bands.map((b) => b.syncKey);
  expect(new Set(keys).size).toBe(2);
});

test("an already provisioned band is refused untouched; --force wipes it and gives it a new identity", async () => {
  const st = new SimStation("puckjs", 1, { seed: 9 });
  await st.start();
  const reg = new FileSink(path.join(dir, "force.json"));
  try {
    const port = (await st.next()) as string;
    const first = await flashBand(options(st, port, reg));
    const d = deviceOf(st, port);
    // Let the band log and journal something of its own.
    await new Promise((r) => setTimeout(r, 1500));
    const before = files(d);
    await expect(flashBand(options(st, port, reg))).rejects.toThrow(
      new RegExp(`already provisioned as band ${first.bandId}: use --force`),
    );
    const after = files(d);
    expect(after[PROVISIONING_FILE].equals(before[PROVISIONING_FILE])).toBe(true);
    expect(after[".bootcde"].equals(before[".bootcde"])).toBe(true);
    const second = await flashBand(options(st, port, reg, { force: true }));
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
  const st = new SimStation("pixljs", 3, { seed: 11 });
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
    const err = (await flashBand(options(st, p1, refusing)).catch((e) => e)) as FlashError;
    expect(err).toBeInstanceOf(FlashError);
    expect(err.message).toMatch(/the disk is full .*left unprovisioned/);
    expect(files(deviceOf(st, p1))[PROVISIONING_FILE]).toBeUndefined();

    // 2. The wrong board: refused before anything is written.
    const p2 = (await st.next()) as string;
    const d2 = deviceOf(st, p2);
    const reg = new FileSink(path.join(dir, "refused.json"));
    await expect(flashBand({ ...options(st, p2, reg), board: loadBoard("puckjs") })).rejects.toThrow(
      /is a PIXLJS, not a Puck\.js .*pick --board/,
    );
    expect(Object.keys(files(d2))).toEqual([]);

    // 3. Storage too small: another program's data fills it; nothing is written.
    const p3 = (await st.next()) as string;
    const d3 = deviceOf(st, p3);
    d3.storage.write("photos", new Uint8Array(d3.storage.getFree() - 8000).fill(7), 0, 0);
    await expect(flashBand(options(st, p3, reg))).rejects.toThrow(/Storage too small .*needs \d+ bytes/);
    expect(Object.keys(files(d3))).toEqual(["photos"]);
    expect(loadRegistryFile(path.join(dir, "refused.json")).bands).toEqual([]);
  } finally {
    st.stop();
  }
});

import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LogPages } from "../../firmware/src/protocol/log-mac";
import { encodeProvisioning, PROVISIONING_FILE } from "../../firmware/src/protocol/provisioning";
import { RECORD_START_S } from "../../firmware/src/protocol/record";
import { decodeV2Header, decodeV2Record, V2_UNIT_SIZE } from "../../firmware/src/protocol/record-v2";
import {
  decodeDataPayload,
  decodeTekPayload,
  encodeReadCommand,
  OP_ACK,
  OP_ACK_OK,
  OP_DATA,
  OP_READ,
  OP_READ_END,
  OP_READ_TEKS,
  OP_TEK,
  OP_TEKS_END,
  u32Payload,
} from "../../firmware/src/protocol/sync";
import { FIRMWARE_VERSION } from "../../firmware/src/tuning";
import { flashBand } from "../../host-tools/src/flash/provision";
import { FileSink } from "../../host-tools/src/flash/registry";
import { SimStation } from "../../host-tools/src/flash/station";
import { simFlashOptions } from "./helpers";
import { journalCursor, readV2Log } from "../../host-tools/src/flash/upgrade";
import { LOG_FORMAT_3_FIRMWARE, SyncEngine, SyncResult } from "../../host-tools/src/kiosk/engine";
import { sightingsOf } from "../../host-tools/src/kiosk/exposure-check";
import { matchExposures } from "../../host-tools/src/kiosk/exposure/match";
import { simRadio, worldClock } from "../../host-tools/src/kiosk/radio";
import { KioskStore } from "../../host-tools/src/kiosk/store";
import type { EspruinoDevice } from "../../host-tools/src/sim/device";
import { World } from "../../host-tools/src/sim/world";
import { addBand, provisioning, SimKiosk } from "../firmware/helpers/sim-kiosk";

/**
 * `tracelet flash --upgrade` against the REAL format-2 firmware: the Puck.js production bundle of commit 0cebfdf
 * (test/fixtures/firmware/puckjs-fw2.js, the last firmware before log format 3) runs on a simulated band among bands
 * on the current firmware and a phone, and logs format-2 records as it did in the field. A kiosk on the old protocol
 * syncs the first page of its log; the current kiosk's sync engine refuses the rest (firmware 2: "upgrade it"),
 * storing and ACKing nothing; the flasher upgrades the band over Bluetooth (maintenance CONSOLE command, as for a
 * production Puck.js); the format-3 firmware boots, the sync engine syncs it, and the records carried over are the
 * neighbours' real RPIs at their real times, the page synced before not sent again, identity and keys unchanged.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const FW2 = path.join(ROOT, "test", "fixtures", "firmware", "puckjs-fw2.js");
const FW2_SHA256 = "aa0c49b33f5257b2d85d425c6744a5bd3948653153c7e100b53dfbe56b77ff26";
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

jest.setTimeout(110_000);

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-fw2-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The band's TEKs (hex, newest first) over an open SimKiosk session. */
async function teksOf(k: SimKiosk): Promise<string[]> {
  const frames = await k.command(OP_READ_TEKS, new Uint8Array(0), OP_TEKS_END);
  return frames
    .filter((f) => f.op === OP_TEK)
    .map((f) => {
      const t = decodeTekPayload(f.payload);
      return t.ok ? hex(t.value.entry.tek) : "bad";
    });
}

test("a band on the real format-2 firmware: refused by the kiosk, upgraded, its unsynced real encounters synced in format 3", async () => {
  const fw2 = fs.readFileSync(FW2);
  expect(crypto.createHash("sha256").update(fw2).digest("hex")).toBe(FW2_SHA256);

  // ---- three hours on the format-2 firmware beside two current bands and a phone
  const world = new World({ seed: 29 });
  const prov = provisioning(world);
  const bandId = hex(prov.bandId);
  const provBytes = encodeProvisioning(prov);
  const old: EspruinoDevice = world.addBand({
    board: "puckjs",
    name: "fw2",
    bundleSource: fw2.toString("latin1"),
    position: { x: 1, y: 0.5 },
    provisioning: { [PROVISIONING_FILE]: provBytes },
    clock: world.startUnix + world.now,
  });
  const neighbours = [addBand(world, "puckjs", { x: 1.5, y: 0.5 }), addBand(world, "puckjs", { x: 1.2, y: 1 })];
  const phone = world.addPhone({ kind: "en", name: "phone", position: { x: 1.3, y: 0.7 } });
  world.run(3 * 3600);
  const v2Files = () =>
    new Map(
      old.storage
        .list()
        .filter((n) => n.startsWith("tl.l"))
        .map((n) => [n, old.storage.read(n) as Uint8Array]),
    );
  const logged = readV2Log(v2Files(), 0);
  const loggedRecords = logged.unsynced.reduce((n, s) => n + s.records.length, 0);
  expect(old.storage.list().filter((n) => n.startsWith("tl.e"))).toEqual([]);
  expect(loggedRecords).toBeGreaterThan(15);
  expect(logged.torn).toBe(0);

  // ---- (a) a kiosk on the old protocol (sync protocol 2, 12-byte units) syncs the log's first page and ACKs it
  const oldKiosk = new SimKiosk(world, [prov.syncKey], { x: 1, y: 0 });
  const found = await oldKiosk.find(60);
  expect(await oldKiosk.open(found.address, found.index)).toBe(true);
  const st0 = await oldKiosk.status();
  expect(st0.firmwareVersion).toBe(2);
  const teksBefore = await teksOf(oldKiosk);
  expect(teksBefore.length).toBeGreaterThan(0);
  const pages = new LogPages(prov.bandId);
  pages.start();
  const frames = await oldKiosk.command(OP_READ, encodeReadCommand(st0.logStart, 8), OP_READ_END);
  let page: { next: number; kept: boolean } | undefined;
  for (const f of frames) page = pages.frame(f.op, f.payload, f.gap) ?? page;
  expect(page?.kept).toBe(true);
  const syncedIds: string[] = [];
  for (const f of frames.filter((x) => x.op === OP_DATA)) {
    const d = decodeDataPayload(f.payload, V2_UNIT_SIZE);
    if (!d.ok) throw new Error(d.error);
    for (const u of d.value.units) {
      if (decodeV2Header(u, 0).ok) continue;
      const r = decodeV2Record(u, 0);
      if (!r.ok) throw new Error(r.error);
      syncedIds.push(hex(r.value.id.subarray(0, 5)));
    }
  }
  const cursor = (page as { next: number }).next;
  expect(cursor).toBeGreaterThan(st0.logStart);
  expect(cursor).toBeLessThan(st0.logEnd);
  expect(syncedIds.length).toBeGreaterThan(0);
  const ack = await oldKiosk.command(OP_ACK, u32Payload(cursor), OP_ACK_OK);
  expect(ack.some((f) => f.op === OP_ACK_OK)).toBe(true);
  await oldKiosk.close();
  const journal = () => journalCursor(["tl.j0", "tl.j1"].map((n) => old.storage.read(n) as Uint8Array | undefined));
  expect(journal()).toBe(cursor);

  // ---- (a) the current kiosk refuses the rest of the format-2 log: it says to upgrade, stores and ACKs nothing
  const store = new KioskStore(path.join(dir, "kiosk"));
  store.setRegistry([{ bandId, board: "puckjs", syncKey: prov.syncKey }], "test", 0);
  let engine = new SyncEngine(simRadio(world), store, worldClock(world));
  const refused = new Promise<SyncResult>((resolve) => engine.once("synced", resolve));
  await world.until(engine.start());
  const r0 = await world.until(refused, { timeoutS: 120 });
  await world.until(engine.stop());
  expect(r0).toMatchObject({ bandId, ok: false, units: 0, pages: 0, acked: 0 });
  expect(r0.status?.firmwareVersion).toBeLessThan(LOG_FORMAT_3_FIRMWARE);
  expect(r0.error).toMatch(/firmware 2, whose log this kiosk cannot read: upgrade it with `tracelet flash --upgrade`/);
  expect(store.pages(bandId)).toEqual([]);
  expect(store.band(bandId)).toMatchObject({ cursor: 0, acked: 0, syncs: 0 });
  expect(journal()).toBe(cursor);

  // ---- (b) the upgrade, over Bluetooth as for a production Puck.js: CONSOLE with the sync key, then the console
  const reg = new FileSink(path.join(dir, "bands.json"));
  await reg.add({ bandId, board: "puckjs", syncKey: hex(prov.syncKey) });
  const station = new SimStation("puckjs", 0, { world });
  await station.start();
  let up: Awaited<ReturnType<typeof flashBand>>;
  try {
    (station.bluetooth as NonNullable<typeof station.bluetooth>).keys.set(bandId, prov.syncKey);
    up = await flashBand(simFlashOptions(station, `band:${bandId}`, reg, { upgrade: true }));
  } finally {
    station.stop();
  }
  // The format-2 firmware logged until the flasher stopped it, before this.
  const upgradeAt = world.startUnix + world.now;
  const report = up.upgrade!;
  expect(up.bandId).toBe(bandId);
  expect(up.wiped).toBe(false);
  expect(up.health.ok).toBe(true);
  expect(report).toMatchObject({ logFormat: 2, syncCursor: cursor, dropped: 0, torn: 0 });
  // What the old kiosk synced stays behind; everything logged since is carried over (the band kept logging
  // until it was stopped).
  expect(report.leftBehind).toBe(syncedIds.length);
  expect(report.carried).toBeGreaterThanOrEqual(loggedRecords - syncedIds.length);
  expect(report.firstCursor).toBeGreaterThan(cursor);
  expect(old.storage.list().filter((n) => n.startsWith("tl.l"))).toEqual([]);
  expect(Buffer.compare(old.storage.read(PROVISIONING_FILE) as Uint8Array, provBytes)).toBe(0);

  // ---- (c) the format-3 firmware runs; the same kiosk store syncs it
  engine = new SyncEngine(simRadio(world), store, worldClock(world));
  const ok = new Promise<SyncResult>((resolve) =>
    engine.on("synced", (r: SyncResult) => {
      if (r.ok) resolve(r);
    }),
  );
  await world.until(engine.start());
  const r1 = await world.until(ok, { timeoutS: 300 });
  await world.until(engine.stop());
  expect(r1.status?.firmwareVersion).toBe(FIRMWARE_VERSION);
  // The journal came through: the band still stood at the old kiosk's ACK, its log starting above it.
  expect(r1.status?.syncCursor).toBe(cursor);
  expect(r1.status?.logStart).toBe(report.firstCursor);
  const row = store.band(bandId)!;
  expect(row.acked).toBe(row.cursor);

  // Every unit the kiosk got lies above the cursor the old kiosk ACKed: the page it synced was not sent again.
  const { log, cursors } = sightingsOf(store, bandId);
  expect(cursors.every((c) => c >= (report.firstCursor as number))).toBe(true);
  // The carried records come first (the format-3 firmware's own follow them, under later seqs).
  expect(log.sightings.length).toBeGreaterThanOrEqual(report.carried);
  const carried = log.sightings.slice(0, report.carried);
  const t0 = world.startUnix;
  const mine = old.name;
  for (const s of carried) {
    const id = hex(s.id);
    // A neighbour really advertised this RPI prefix at that time: from the 10-minute interval it started sending it
    // in to its next rotation (at most 20 minutes after it last started sending it); the time is on the grid.
    const owner = world.idOwners.get(id);
    expect(owner).toBeDefined();
    expect(owner!.owner).not.toBe(mine);
    expect(s.startUnix).not.toBeNull();
    const at = s.startUnix as number;
    expect(at % RECORD_START_S).toBe(0);
    expect(at).toBeGreaterThanOrEqual(Math.floor((t0 + owner!.firstSeen) / RECORD_START_S) * RECORD_START_S);
    expect(at).toBeLessThanOrEqual(t0 + owner!.lastSeen + 2 * RECORD_START_S);
    expect(at).toBeLessThanOrEqual(upgradeAt);
    expect(syncedIds).not.toContain(id);
  }
  // Same identity and keys: the engine authenticated with the registered sync key; the journal's TEKs are kept.
  const tekSession = async (syncKey: Uint8Array) => {
    const k = new SimKiosk(world, [syncKey], { x: 1, y: 0 });
    const f = await k.find(60);
    expect(await k.open(f.address, f.index)).toBe(true);
    const teks = await teksOf(k);
    await k.close();
    return teks;
  };
  expect(await tekSession(prov.syncKey)).toEqual(teksBefore);

  // Every Exposure Notification record carried over matches a neighbour's TEK through the kiosk's matcher (5-byte
  // prefix, +-2 h, the AEM check on the tx power): the phone's and the current bands' keys, as they would publish them.
  const day = Math.floor(t0 / 86400);
  const published = [phone.tek(day)];
  for (const n of neighbours) published.push(...(await tekSession(n.prov.syncKey)).map((t) => Buffer.from(t, "hex")));
  const keys = published.map((tek) => ({
    tek,
    rollingStartIntervalNumber: day * 144,
    rollingPeriod: 144,
    transmissionRisk: null,
    reportType: "CONFIRMED_TEST" as const,
    daysSinceOnset: null,
  }));
  const m = matchExposures(keys, [{ bandId, sightings: carried }]);
  const en = carried.filter((s) => s.kind === 0).length;
  expect(en).toBe(carried.length);
  expect(m.matches.length).toBe(en);
  expect(m.keyStats.aemRejected).toBe(0);
  const byOwner = (o: string) => carried.filter((s) => world.idOwners.get(hex(s.id))?.owner === o).length;
  expect(byOwner(phone.label)).toBeGreaterThan(0);
  for (const n of neighbours) expect(byOwner(n.band.name)).toBeGreaterThan(0);
  expect(old.faults).toEqual([]);
  for (const n of neighbours) expect(n.band.faults).toEqual([]);
  store.close();
});

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { signPages } from "../../firmware/src/protocol/log-mac";
import {
  encodeRecord,
  encodeSegmentHeader,
  KIND_BLUEZONE,
  KIND_EN,
  RECORD_SIZE,
} from "../../firmware/src/protocol/record";
import { AuthorityClient } from "../../host-tools/src/kiosk/authority-client";
import { DEFAULT_EXPOSURE_WINDOW_CONFIG } from "../../host-tools/src/kiosk/exposure";
import { ExposureChecker, sightingsOf } from "../../host-tools/src/kiosk/exposure-check";
import { KioskStore } from "../../host-tools/src/kiosk/store";
import { nodePrims } from "../../host-tools/src/crypto/native";

const DAY = 20_000;
const status = {
  firmwareVersion: 2,
  boardCode: 1,
  batteryPercent: 90,
  flags: 1,
  bandTime: DAY * 86400 + 50_000,
  uptime: 50_000,
  bootEpoch: 1,
  retentionDays: 21,
  driftPpm: 0,
  logStart: 512,
  logEnd: 515,
  syncCursor: 0,
  oldestTime: DAY * 86400,
  faults: 0,
  records: 3,
  lastFaultDuty: 0,
  resets: 0,
};

/** A stored log: one segment (day DAY, 08:00) with an EN record and a Bluezone record of 20 minutes each. */
function storeWithLog(): { store: KioskStore; bandId: string; bz: string } {
  const store = new KioskStore(fs.mkdtempSync(path.join(os.tmpdir(), "tl-kcheck-")));
  const bandId = "0a0b0c0d0e0f1011";
  const bz = "b10e20e30e40";
  const rec = (kind: number, id: string) => {
    const u = new Uint8Array(RECORD_SIZE);
    encodeRecord(
      { kind, id: Buffer.from(id, "hex"), startMinute: 0, durationMinutes: 20, rssiMean: -55, aemTx: 0 },
      u,
      0,
    );
    return u;
  };
  const units = [
    {
      cursor: 512,
      bytes: encodeSegmentHeader({ seq: 1, baseTime: DAY * 86400 + 8 * 3600, monotonic: false, bootEpoch: 1 }),
    },
    { cursor: 513, bytes: rec(KIND_EN, "112233445566") },
    { cursor: 514, bytes: rec(KIND_BLUEZONE, bz) },
  ];
  const pages = signPages(nodePrims.sha256, new Uint8Array(16), Buffer.from(bandId, "hex"), units).map((p) => ({
    ...p,
    mac: new Uint8Array(16),
  }));
  const sync = store.beginSync(bandId, 0, status, { errorS: 0, driftPpm: 0 }, false);
  store.storePages(bandId, sync, 512, [{ start: 512, page: pages[0], units: 3 }], 0);
  return { store, bandId, bz };
}

describe("kiosk exposure check", () => {
  test("stored records are read back in time with their cursors", () => {
    const { store, bandId } = storeWithLog();
    const { log, cursors } = sightingsOf(store, bandId);
    expect(cursors).toEqual([513, 514]);
    expect(log.sightings.map((x) => x.startUnix)).toEqual([DAY * 86400 + 8 * 3600, DAY * 86400 + 8 * 3600]);
    expect(log.sightings[1]).toMatchObject({ kind: KIND_BLUEZONE, durationMinutes: 20, rssiMean: -55 });
    store.close();
  });

  test("Bluezone records are matched against the published F0 list, read at every check", async () => {
    const { store, bandId, bz } = storeWithLog();
    let f0: string[] = [];
    // download: false never calls the authority.
    const client = new AuthorityClient("http://127.0.0.1:9", "unused-key");
    const checker = new ExposureChecker(
      store,
      client,
      DEFAULT_EXPOSURE_WINDOW_CONFIG,
      () => (DAY + 1) * 86400_000,
      () => undefined,
      undefined,
      () => f0,
    );
    expect((await checker.run({ download: false })).newExposures).toEqual([]);
    f0 = [bz + "aabbccdd"];
    const r = await checker.run({ download: false });
    expect(r.newExposures).toEqual([
      { bandId, day: new Date(DAY * 86400_000).toISOString().slice(0, 10), risky: expect.any(Boolean) },
    ]);
    const [e] = store.exposures(bandId);
    expect(e.detail).toMatchObject({ source: "bluezone", sightings: 1 });
    // Checking again finds nothing new: the match is stored once.
    expect((await checker.run({ download: false })).newExposures).toEqual([]);
    store.close();
  });
});

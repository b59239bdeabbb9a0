import * as fs from "fs";
import * as path from "path";
import { KioskStore } from "../../host-tools/src/kiosk/store";
import { tempDirs } from "../temp-dirs";

const tempDir = tempDirs("tl-kstore-");

const status = {
  firmwareVersion: 2,
  boardCode: 1,
  batteryPercent: 90,
  flags: 1,
  bandTime: 1_800_000_000,
  uptime: 100,
  bootEpoch: 1,
  retentionDays: 21,
  driftPpm: 0,
  logStart: 512,
  logEnd: 600,
  syncCursor: 0,
  oldestTime: 0,
  faults: 0,
  records: 88,
  lastFaultDuty: 0,
  resets: 0,
};

describe("kiosk store", () => {
  test("pages and sync keys are sealed at rest: the database file holds neither in clear", () => {
    const dir = tempDir();
    const s = new KioskStore(dir);
    const syncKey = new Uint8Array(16).fill(0xab);
    s.setRegistry([{ bandId: "0011223344556677", board: "puckjs", syncKey }], "test", 1);
    const body = new Uint8Array(Buffer.from("TRACELET-PAGE-PLAINTEXT-" + "x".repeat(40)));
    const sync = s.beginSync("0011223344556677", 1, status, { errorS: 0, driftPpm: 0 }, false);
    s.storePages(
      "0011223344556677",
      sync,
      512,
      [{ start: 512, page: { body, next: 520, mac: new Uint8Array(16) }, units: 2 }],
      1,
    );
    expect(s.pages("0011223344556677")[0].body).toEqual(body);
    expect(s.registry()[0].syncKey).toEqual(syncKey);
    s.close();
    const raw = Buffer.concat(
      fs
        .readdirSync(dir)
        .filter((f) => f.startsWith("kiosk.db"))
        .map((f) => fs.readFileSync(path.join(dir, f))),
    );
    expect(raw.includes(Buffer.from("TRACELET-PAGE-PLAINTEXT"))).toBe(false);
    expect(raw.includes(Buffer.from(syncKey))).toBe(false);
    for (const f of fs.readdirSync(dir)) expect(fs.statSync(path.join(dir, f)).mode & 0o077).toBe(0);
  });

  test("a sealed page moved to another band's row does not open", () => {
    const dir = tempDir();
    const s = new KioskStore(dir);
    for (const id of ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"]) {
      const sync = s.beginSync(id, 1, status, { errorS: 0, driftPpm: 0 }, false);
      s.storePages(
        id,
        sync,
        512,
        [
          {
            start: 512,
            page: { body: new Uint8Array(40).fill(id.charCodeAt(0)), next: 515, mac: new Uint8Array(16) },
            units: 3,
          },
        ],
        1,
      );
    }
    s.db
      .prepare(
        "UPDATE pages SET body = (SELECT body FROM pages WHERE band_id = 'aaaaaaaaaaaaaaaa') WHERE band_id = 'bbbbbbbbbbbbbbbb'",
      )
      .run();
    expect(() => s.pages("bbbbbbbbbbbbbbbb")).toThrow(/does not open with this kiosk's key/);
    s.close();
  });

  test("pages must continue the stored cursor; the cursor and the ACK never pass what is stored", () => {
    const s = new KioskStore(tempDir());
    const id = "0102030405060708";
    const sync = s.beginSync(id, 1, status, { errorS: null, driftPpm: null }, false);
    const page = (start: number, next: number) => ({
      start,
      page: { body: new Uint8Array(16), next, mac: new Uint8Array(16) },
      units: 1,
    });
    expect(s.storePages(id, sync, 0, [page(0, 10), page(10, 20)], 1)).toBe(20);
    expect(() => s.storePages(id, sync, 10, [page(10, 20)], 1)).toThrow(/do not continue the stored cursor 20/);
    expect(() => s.storePages(id, sync, 20, [page(21, 30)], 1)).toThrow(/does not continue cursor 20/);
    expect(() => s.acked(id, 21, 1)).toThrow(/beyond the stored cursor 20/);
    s.acked(id, 20, 1);
    expect(s.band(id)).toMatchObject({ cursor: 20, acked: 20 });
    s.close();
  });

  test("a kiosk key others can read is refused; a damaged one is named", () => {
    const dir = tempDir();
    new KioskStore(dir).close();
    fs.chmodSync(path.join(dir, "kiosk.key"), 0o644);
    expect(() => new KioskStore(dir)).toThrow(/kiosk.key is readable by group or others; chmod 600 it/);
    fs.chmodSync(path.join(dir, "kiosk.key"), 0o600);
    fs.writeFileSync(path.join(dir, "kiosk.key"), "not hex\n");
    expect(() => new KioskStore(dir)).toThrow(/is not 64 hex digits/);
  });

  test("retention: pages, their matches and old exposure days are purged; cursors stay", () => {
    const s = new KioskStore(tempDir());
    const id = "0102030405060708";
    const day = 86400_000;
    const sync = s.beginSync(id, 0, status, { errorS: 0, driftPpm: 0 }, false);
    s.storePages(
      id,
      sync,
      0,
      [{ start: 0, page: { body: new Uint8Array(16), next: 5, mac: new Uint8Array(16) }, units: 5 }],
      0,
    );
    s.saveMatches([{ bandId: id, cursor: 2, tek: "ab", detail: {} }]);
    s.saveExposure(id, "1970-01-01", { risky: true }, 0);
    const n = s.purge(30 * day, 21);
    expect(n).toMatchObject({ pages: 1, matches: 1, exposures: 1 });
    expect(s.pages(id)).toEqual([]);
    expect(s.band(id)!.cursor).toBe(5);
    s.close();
  });
});

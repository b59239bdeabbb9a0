import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Database from "better-sqlite3";
import { deriveServerSubkeys } from "../../host-tools/src/authority/crypto/server-keys";
import { open } from "../../host-tools/src/authority/crypto/secret-box";
import { secretsFromFile } from "../../host-tools/src/authority/secrets";
import { parseConfig } from "../../host-tools/src/authority/config";
import { MIGRATIONS, migrationSql } from "../../host-tools/src/authority/store/migrations";
import { SqliteStore } from "../../host-tools/src/authority/store/sqlite";
import { loadRegistryFile, RegistryFileError } from "../../host-tools/src/kiosk/registry-file";
import { runCli } from "../helpers/cli";
import { call, startTestAuthority, T0, TestAuthority } from "./helpers";
import { describeEachBackend } from "../postgres";

/** Sync keys in the band registry, the kiosk listing, the offline registry file. */

const hex = (n: number) => randomBytes(n).toString("hex");

function register(t: TestAuthority, json: Record<string, unknown>, key = t.flasherKey) {
  return call(t, "POST", "/api/bands", { key, json: { board: "puckjs", ...json } });
}

function kioskBands(t: TestAuthority, query = "", key = t.kioskKey) {
  return call(t, "GET", "/api/kiosk/bands" + query, { key });
}

describeEachBackend("sync keys in the band registry", (backend) => {
  let t: TestAuthority;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-kiosk-registry-"));
    t = await startTestAuthority(
      { deployment: "escrow", rateLimits: { enabled: false } },
      backend === "postgres" ? "postgres" : path.join(dir, "a.db"),
    );
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the flasher registers a band with its sync key; it is sealed and never shown by GET /api/bands/:id", async () => {
    const bandId = hex(8);
    const syncKey = randomBytes(16);
    const r = await register(t, { bandId, syncKey: syncKey.toString("hex"), escrowSecret: hex(16) });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ status: "created", bandId, escrow: true, hasSyncKey: true });
    expect(r.text).not.toContain(syncKey.toString("hex"));
    const view = await call(t, "GET", "/api/bands/" + bandId, { key: t.flasherKey });
    expect(view.json).toMatchObject({ bandId, hasSyncKey: true });
    expect(view.text.toLowerCase()).not.toContain(syncKey.toString("hex"));
    expect(Object.keys(view.json)).not.toContain("syncKey");

    // The raw row holds neither the bytes nor the hex, and the blob opens only under the sync-key subkey with
    // this band id as associated data.
    const [row] = await t.rawSql("SELECT * FROM bands WHERE band_id = ?", bandId);
    const flat = Buffer.concat(Object.values(row).map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v)))));
    expect(flat.includes(syncKey)).toBe(false);
    expect(flat.includes(Buffer.from(syncKey.toString("hex")))).toBe(false);
    const sub = deriveServerSubkeys(secretsFromFile(t.secretsFile, parseConfig({})).serverKey);
    const sealed = row.sync_key_sealed as Buffer;
    expect(open(sub.syncKeySeal, sealed, Buffer.from(bandId, "hex"))).toEqual(syncKey);
    expect(open(sub.escrowSeal, sealed, Buffer.from(bandId, "hex"))).toBeUndefined();
    expect(open(sub.syncKeySeal, sealed, randomBytes(8))).toBeUndefined();
  });

  test("band health: a kiosk reports a band's STATUS, the registry keeps the latest; others and bad reports refused", async () => {
    const bandId = hex(8);
    expect((await register(t, { bandId, syncKey: hex(16) })).status).toBe(201);
    const report = (at: string, faults: number) => ({
      syncedAt: at,
      firmware: 3,
      board: "puckjs",
      batteryPercent: 87,
      lowBattery: false,
      timeValid: true,
      faults,
      lastFaultDuty: faults ? "scan start" : null,
      resets: 1,
    });
    const post = (json: unknown, key = t.kioskKey, id = bandId) =>
      call(t, "POST", `/api/kiosk/bands/${id}/health`, { key, json });
    const healthOf = async () => (await call(t, "GET", "/api/bands/" + bandId, { key: t.flasherKey })).json.health;
    expect(await healthOf()).toBeNull();
    expect((await post(report("2026-01-05T10:00:00Z", 2))).status).toBe(200);
    expect(await healthOf()).toMatchObject({ ...report("2026-01-05T10:00:00Z", 2), reportedBy: expect.any(String) });
    // A late report of an earlier sync does not replace it; a newer one does.
    expect((await post(report("2026-01-05T09:00:00Z", 0))).status).toBe(200);
    expect((await healthOf()).faults).toBe(2);
    expect((await post(report("2026-01-05T11:00:00Z", 3))).status).toBe(200);
    expect(await healthOf()).toMatchObject({ faults: 3, syncedAt: "2026-01-05T11:00:00Z" });
    // Only kiosks (and admins) report; an unknown band is 404; a malformed report is 400 and changes nothing.
    expect((await post(report("2026-01-05T12:00:00Z", 9), t.flasherKey)).status).toBe(403);
    expect((await post(report("2026-01-05T12:00:00Z", 9), "")).status).toBe(401);
    expect((await post(report("2026-01-05T12:00:00Z", 9), t.kioskKey, hex(8))).status).toBe(404);
    for (const bad of [
      { ...report("2026-01-05T12:00:00Z", 9), faults: -1 },
      { ...report("2026-01-05T12:00:00Z", 9), batteryPercent: 101 },
      { ...report("2026-01-05T12:00:00Z", 9), syncedAt: "yesterday" },
      { ...report("2026-01-05T12:00:00Z", 9), extra: 1 },
    ])
      expect((await post(bad)).status).toBe(400);
    expect((await healthOf()).faults).toBe(3);
    // A re-provisioned band starts with no health.
    expect((await register(t, { bandId, syncKey: hex(16), replace: true })).status).toBe(200);
    expect(await healthOf()).toBeNull();
  });

  test("idempotency: same key unchanged, another key 409 without replace, replaced with it", async () => {
    const bandId = hex(8);
    const k1 = hex(16);
    const k2 = hex(16);
    expect((await register(t, { bandId, syncKey: k1 })).status).toBe(201);
    const same = await register(t, { bandId, syncKey: k1.toUpperCase() });
    expect([same.status, same.json.status]).toEqual([200, "unchanged"]);
    const other = await register(t, { bandId, syncKey: k2 });
    expect([other.status, other.json.code]).toEqual([409, "band_exists"]);
    const replaced = await register(t, { bandId, syncKey: k2, replace: true });
    expect([replaced.status, replaced.json.status]).toEqual([200, "replaced"]);
    const listed = (await kioskBands(t)).json.bands.find((b: { bandId: string }) => b.bandId === bandId);
    expect(listed.syncKey).toBe(k2);
  });

  test("the flasher must send a sync key; an admin may register without one (not served to kiosks)", async () => {
    const bandId = hex(8);
    const r = await register(t, { bandId });
    expect([r.status, r.json.code]).toEqual([400, "sync_key_required"]);
    for (const bad of ["00", "zz".repeat(16), 42]) {
      const b = await register(t, { bandId, syncKey: bad });
      expect(b.status).toBe(400);
      expect(b.json.issues[0].path).toBe("syncKey");
    }
    const admin = await register(t, { bandId }, t.adminKey);
    expect([admin.status, admin.json.hasSyncKey]).toEqual([201, false]);
    const listed = (await kioskBands(t)).json.bands.map((b: { bandId: string }) => b.bandId);
    expect(listed).not.toContain(bandId);
    // The same board and secret plus the missing key: filled in without replace.
    const key = hex(16);
    const filled = await register(t, { bandId, syncKey: key });
    expect([filled.status, filled.json.status, filled.json.hasSyncKey]).toEqual([200, "updated", true]);
    const after = (await kioskBands(t)).json.bands.find((b: { bandId: string }) => b.bandId === bandId);
    expect(after.syncKey).toBe(key);
  });

  test("GET /api/kiosk/bands: kiosk and admin keys only", async () => {
    expect((await kioskBands(t, "", "")).status).toBe(401);
    expect((await kioskBands(t, "", "not-a-key-not-a-key-not-a-key")).status).toBe(401);
    expect((await kioskBands(t, "", t.flasherKey)).status).toBe(403);
    const admin = await kioskBands(t, "", t.adminKey);
    expect(admin.status).toBe(200);
    const kiosk = await kioskBands(t);
    expect(kiosk.status).toBe(200);
    expect(kiosk.headers.get("cache-control")).toBe("no-store");
    expect(kiosk.json.deleted).toEqual([]);
    for (const b of kiosk.json.bands) {
      expect(Object.keys(b).sort()).toEqual(["bandId", "board", "escrow", "registeredAt", "syncKey"]);
      expect(b.syncKey).toMatch(/^[0-9a-f]{32}$/);
    }
    for (const q of ["?since=yesterday", "?since=1.5", "?since=2025-03-10", "?other=1"]) {
      expect((await kioskBands(t, q)).status).toBe(400);
    }
  });

  test("incremental refresh: since returns changes and the bands to forget; every listing is audited", async () => {
    // Earlier tests registered at T0: move past the refresh overlap so only what follows is "changed since".
    t.clock.ms += 10 * 60_000;
    const first = await kioskBands(t);
    const asOf = first.json.asOf as string;
    expect(asOf).toBe(new Date(t.clock.ms - (t.clock.ms % 1000)).toISOString());
    const known = first.json.bands.map((b: { bandId: string }) => b.bandId) as string[];
    expect(known.length).toBeGreaterThan(2);

    t.clock.ms += 10 * 60_000;
    const fresh = hex(8);
    const freshKey = hex(16);
    expect((await register(t, { bandId: fresh, syncKey: freshKey })).status).toBe(201);
    // Deleted, and replaced by an admin without a sync key: both must be forgotten.
    expect((await call(t, "DELETE", "/api/bands/" + known[0], { key: t.adminKey })).status).toBe(200);
    const stripped = await register(t, { bandId: known[1], replace: true }, t.adminKey);
    expect(stripped.json).toMatchObject({ status: "replaced", hasSyncKey: false });

    for (const since of [asOf, String(Date.parse(asOf))]) {
      const inc = await kioskBands(t, "?since=" + encodeURIComponent(since));
      expect(inc.status).toBe(200);
      expect(inc.json.bands).toEqual([
        { bandId: fresh, board: "puckjs", syncKey: freshKey, escrow: false, registeredAt: expect.any(String) },
      ]);
      expect(inc.json.deleted.sort()).toEqual([known[0], known[1]].sort());
    }
    // A deleted band registered again with a key is served, not forgotten.
    const again = hex(16);
    expect((await register(t, { bandId: known[0], syncKey: again })).status).toBe(201);
    const inc2 = await kioskBands(t, "?since=" + encodeURIComponent(asOf));
    expect(inc2.json.deleted).toEqual([known[1]]);
    expect(inc2.json.bands.map((b: { bandId: string }) => b.bandId).sort()).toEqual([fresh, known[0]].sort());
    // Nothing changed since a listing made after all of it (beyond the one-minute overlap).
    t.clock.ms += 5 * 60_000;
    const later = await kioskBands(t);
    t.clock.ms += 5 * 60_000;
    const quiet = await kioskBands(t, "?since=" + encodeURIComponent(later.json.asOf));
    expect(quiet.json).toMatchObject({ bands: [], deleted: [] });

    const audit = await call(t, "GET", "/api/audit?limit=1000", { key: t.adminKey });
    const listings = audit.json.entries.filter((e: { action: string }) => e.action === "bands.synckeys.listed");
    expect(listings.length).toBeGreaterThanOrEqual(5);
    const last = listings[0];
    expect(last).toMatchObject({ actor: "kiosk:kiosk", detail: { count: 0, deleted: 0, incremental: true } });
    expect(JSON.stringify(audit.json)).not.toContain(freshKey);
    expect(JSON.stringify(audit.json)).not.toContain(again);
  });

  test("a sealed sync key copied onto another band's row does not open: the listing fails, it does not leak", async () => {
    const a = hex(8);
    const b = hex(8);
    await register(t, { bandId: a, syncKey: hex(16) });
    await register(t, { bandId: b, syncKey: hex(16) });
    await t.rawSql(
      "UPDATE bands SET sync_key_sealed = (SELECT sync_key_sealed FROM bands WHERE band_id = ?) WHERE band_id = ?",
      a,
      b,
    );
    const r = await kioskBands(t);
    expect([r.status, r.json.code]).toEqual([500, "internal_error"]);
    await call(t, "DELETE", "/api/bands/" + b, { key: t.adminKey });
    expect((await kioskBands(t)).status).toBe(200);
  });
});

describe("migration 3 on a database from before sync keys", () => {
  test("old rows keep working, are not served to kiosks, and get their key without replace", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-kiosk-migrate-"));
    const file = path.join(dir, "old.db");
    try {
      const old = new Database(file);
      old.exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
      );
      for (const m of MIGRATIONS.filter((x) => x.version <= 2)) {
        old.exec(migrationSql(m, "sqlite"));
        old.prepare("INSERT INTO schema_migrations VALUES (?, ?, 0)").run(m.version, m.name);
      }
      const bandId = hex(8);
      const registeredAt = Math.floor(T0 / 1000) - 86400;
      old
        .prepare("INSERT INTO bands (band_id, board, registered_at, registered_by) VALUES (?, 'puckjs', ?, 'flasher')")
        .run(bandId, registeredAt);
      old.close();
      fs.chmodSync(file, 0o600);

      const store = new SqliteStore(file);
      // Every later migration runs too (4: band health, none yet for an old row).
      expect(store.schemaVersion()).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
      expect(await store.getBand(bandId)).toMatchObject({ syncKeySealed: null, changedAt: registeredAt, health: null });
      await store.close();

      const t = await startTestAuthority({ rateLimits: { enabled: false } }, file);
      try {
        expect((await kioskBands(t)).json.bands).toEqual([]);
        const key = hex(16);
        const r = await register(t, { bandId, syncKey: key });
        expect([r.status, r.json.status]).toEqual([200, "updated"]);
        expect(r.json.registeredAt).toBe(new Date(registeredAt * 1000).toISOString());
        expect((await kioskBands(t)).json.bands).toEqual([
          expect.objectContaining({ bandId, syncKey: key, escrow: false }),
        ]);
      } finally {
        await t.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("tracelet authority registry export and loadRegistryFile", () => {
  let dir: string;
  let db: string;
  let secretsPath: string;
  const bands: { bandId: string; syncKey: string }[] = [];
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-registry-export-"));
    db = path.join(dir, "auth.db");
    const t = await startTestAuthority({ rateLimits: { enabled: false } }, db);
    try {
      for (let i = 0; i < 5; i++) {
        const b = { bandId: hex(8), syncKey: hex(16) };
        bands.push(b);
        expect((await register(t, b)).status).toBe(201);
      }
      expect((await register(t, { bandId: hex(8) }, t.adminKey)).status).toBe(201); // no sync key: left out
      secretsPath = path.join(dir, "auth.db.secrets.json");
      fs.writeFileSync(secretsPath, JSON.stringify(t.secretsFile), { mode: 0o600 });
    } finally {
      await t.close();
    }
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("writes every band with a sync key to a 0600 file the kiosk loader reads back", async () => {
    const out = path.join(dir, "registry.json");
    const r = runCli(["authority", "registry", "export", "--db", db, "--out", out, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ out, bands: 5, withoutSyncKey: 1 });
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const loaded = loadRegistryFile(out);
    expect(loaded).toMatchObject({ version: 1, kind: "tracelet-band-registry" });
    expect(Date.parse(loaded.exportedAt)).not.toBeNaN();
    expect(loaded.bands).toEqual(bands.map((b) => ({ ...b, board: "puckjs" })));
    for (const b of JSON.parse(fs.readFileSync(out, "utf8")).bands) {
      expect(Object.keys(b).sort()).toEqual(["bandId", "board", "syncKey"]);
    }
    // Exporting again over our own 0600 file is fine; the export is in the audit log.
    expect(runCli(["authority", "registry", "export", "--db", db, "--secrets", secretsPath, "--out", out]).status).toBe(
      0,
    );
    const store = new SqliteStore(db);
    try {
      const exports = (await store.listAudit(100)).filter((e) => e.action === "bands.synckeys.exported");
      expect(exports).toHaveLength(2);
      expect(exports[0].detail).toEqual({ count: 5 });
    } finally {
      await store.close();
    }
  });

  test("refuses to overwrite a file others can read, a wrong secrets file, and a missing database", () => {
    const shared = path.join(dir, "shared.json");
    fs.writeFileSync(shared, "{}", { mode: 0o644 });
    fs.chmodSync(shared, 0o644);
    const r = runCli(["authority", "registry", "export", "--db", db, "--out", shared]);
    expect(r.status).toBe(10);
    expect(r.stderr).toMatch(/refusing to overwrite .*shared\.json: it is readable by group or others/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(fs.readFileSync(shared, "utf8")).toBe("{}");

    const otherSecrets = path.join(dir, "other.secrets.json");
    fs.writeFileSync(
      otherSecrets,
      JSON.stringify({
        ...JSON.parse(fs.readFileSync(secretsPath, "utf8")),
        serverKey: randomBytes(32).toString("base64"),
      }),
      { mode: 0o600 },
    );
    const wrong = runCli([
      "authority",
      "registry",
      "export",
      "--db",
      db,
      "--secrets",
      otherSecrets,
      "--out",
      path.join(dir, "w.json"),
    ]);
    expect(wrong.status).toBe(3);
    expect(wrong.stderr).toMatch(/does not open with this server key/);
    expect(fs.existsSync(path.join(dir, "w.json"))).toBe(false);

    const missing = runCli(["authority", "registry", "export", "--db", path.join(dir, "nope.db"), "--out", "x.json"]);
    expect(missing.status).toBe(10);
    expect(fs.existsSync(path.join(dir, "nope.db"))).toBe(false);
  });

  const good = () => ({
    version: 1,
    kind: "tracelet-band-registry",
    exportedAt: "2025-03-10T12:00:00.000Z",
    bands: [
      { bandId: "0011223344556677", board: "puckjs", syncKey: "00112233445566778899aabbccddeeff" },
      { bandId: "8899AABBCCDDEEFF", board: "bangle2", syncKey: "FFEEDDCCBBAA99887766554433221100" },
    ],
  });

  test.each<[string, string | object, RegExp]>([
    ["not JSON", "{bands: []", /is not JSON/],
    ["an array", [], /is not a Tracelet band registry \(not a JSON object\)/],
    [
      "another kind",
      { ...good(), kind: "tracelet-config" },
      /is not a Tracelet band registry \(kind "tracelet-config"/,
    ],
    ["no kind", { version: 1, bands: [] }, /kind missing, expected "tracelet-band-registry"/],
    [
      "a newer version",
      { ...good(), version: 2 },
      /band registry version 2 is not supported \(this Tracelet reads version 1\)/,
    ],
    [
      "a bad sync key",
      { ...good(), bands: [good().bands[0], { ...good().bands[1], syncKey: "12" }] },
      /: bands\[1\]\.syncKey: must be 32 hex digits/,
    ],
    [
      "a bad band id",
      { ...good(), bands: [{ ...good().bands[0], bandId: "xyz" }] },
      /bands\[0\]\.bandId: must be 16 hex/,
    ],
    [
      "a duplicate band id",
      { ...good(), bands: [...good().bands, { ...good().bands[1], bandId: "8899aabbccddeeff" }] },
      /bands\[2\]: band 8899aabbccddeeff is listed twice \(also bands\[1\]\)/,
    ],
    ["no bands array", { ...good(), bands: undefined }, /: bands: /],
  ])("the loader refuses %s", (_name, content, message) => {
    const file = path.join(dir, "bad.json");
    fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content), { mode: 0o600 });
    fs.chmodSync(file, 0o600);
    expect(() => loadRegistryFile(file)).toThrow(RegistryFileError);
    expect(() => loadRegistryFile(file)).toThrow(message);
    expect(() => loadRegistryFile(file)).toThrow(file);
  });

  test("the loader reads a good file (lowercasing hex) and refuses it once group or others can read it", () => {
    const file = path.join(dir, "good.json");
    fs.writeFileSync(file, JSON.stringify(good()), { mode: 0o600 });
    fs.chmodSync(file, 0o600);
    const loaded = loadRegistryFile(file);
    expect(loaded.bands[1]).toEqual({
      bandId: "8899aabbccddeeff",
      board: "bangle2",
      syncKey: "ffeeddccbbaa99887766554433221100",
    });
    for (const mode of [0o640, 0o604]) {
      fs.chmodSync(file, mode);
      expect(() => loadRegistryFile(file)).toThrow(`chmod 600 ${file}`);
      expect(() => loadRegistryFile(file)).toThrow(/readable by group or others/);
    }
    expect(() => loadRegistryFile(path.join(dir, "absent.json"))).toThrow(/cannot read band registry file .*ENOENT/);
  });
});

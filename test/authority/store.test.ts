import { randomBytes } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import Database from "better-sqlite3";
import pg from "pg";
import { SqliteStore } from "../../host-tools/src/authority/store/sqlite";
import { MIGRATIONS, migrationSql } from "../../host-tools/src/authority/store/migrations";
import { PostgresStore, redactSecret, redactUrl } from "../../host-tools/src/authority/store/postgres";
import { dropPostgres, freshPostgresUrl, PG_URL } from "../postgres";
import { call, startTestAuthority } from "./helpers";

describe("SQLite store", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-authority-"));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a file database uses WAL, migrates once and reopens", async () => {
    const file = path.join(dir, "a.db");
    const s1 = new SqliteStore(file);
    expect(s1.schemaVersion()).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
    await s1.insertBand({
      bandId: "0011223344556677",
      board: "puckjs",
      registeredAt: 1,
      registeredBy: "t",
      secretSealed: null,
    });
    await s1.close();
    const s2 = new SqliteStore(file);
    expect((await s2.counts()).bands).toBe(1);
    await s2.close();
    const raw = new Database(file);
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    raw.close();
  });

  test("a database from a newer tracelet is refused", async () => {
    const file = path.join(dir, "b.db");
    await new SqliteStore(file).close();
    const raw = new Database(file);
    raw.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run();
    raw.close();
    expect(() => new SqliteStore(file)).toThrow(/newer/);
  });

  test("escrow secrets never reach the database file in clear", async () => {
    const file = path.join(dir, "c.db");
    const t = await startTestAuthority({ deployment: "escrow" }, file);
    const secrets = Array.from({ length: 20 }, () => randomBytes(16));
    try {
      for (const s of secrets) {
        const r = await call(t, "POST", "/api/bands", {
          key: t.flasherKey,
          json: {
            bandId: randomBytes(8).toString("hex"),
            board: "puckjs",
            escrowSecret: s.toString("hex"),
            syncKey: randomBytes(16).toString("hex"),
          },
        });
        expect(r.status).toBe(201);
      }
    } finally {
      await t.close();
    }
    const bytes = Buffer.concat(
      fs
        .readdirSync(dir)
        .filter((f) => f.startsWith("c.db"))
        .map((f) => fs.readFileSync(path.join(dir, f))),
    );
    for (const s of secrets) {
      expect(bytes.includes(s)).toBe(false);
      expect(bytes.includes(Buffer.from(s.toString("hex")))).toBe(false);
    }
  });

  test("codes are stored as HMACs, not as the digits", async () => {
    const file = path.join(dir, "d.db");
    const t = await startTestAuthority({}, file);
    let code: string;
    try {
      code = (await call(t, "POST", "/api/issue", { key: t.adminKey, json: {} })).json.code;
    } finally {
      await t.close();
    }
    const bytes = Buffer.concat(fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f))));
    expect(bytes.includes(Buffer.from(code))).toBe(false);
  });
});

describe("one list of migrations, two dialects", () => {
  test("every migration has SQL for both stores, in increasing versions", () => {
    const versions = MIGRATIONS.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    for (const m of MIGRATIONS) {
      for (const d of ["sqlite", "postgres"] as const) expect(migrationSql(m, d).trim().length).toBeGreaterThan(0);
      // PostgreSQL has no BLOB type; SQLite's INTEGER PRIMARY KEY alias is spelt as an identity column there.
      expect(migrationSql(m, "postgres")).not.toMatch(/\bBLOB\b|INTEGER PRIMARY KEY/);
    }
  });
});

describe("PostgreSQL store", () => {
  const pgTest = PG_URL ? test : test.skip;
  let url: string;
  beforeEach(async () => {
    if (PG_URL) url = await freshPostgresUrl();
  });
  afterEach(async () => {
    if (PG_URL) await dropPostgres(url);
  });

  pgTest("reaches the same schema version as SQLite, migrates once and reopens", async () => {
    const s1 = await PostgresStore.open(url);
    const lite = new SqliteStore(":memory:");
    expect(await s1.schemaVersion()).toBe(lite.schemaVersion());
    expect(lite.schemaVersion()).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
    await lite.close();
    await s1.insertBand({
      bandId: "0011223344556677",
      board: "puckjs",
      registeredAt: 1,
      registeredBy: "t",
      secretSealed: null,
    });
    await s1.close();
    const s2 = await PostgresStore.open(url);
    expect((await s2.counts()).bands).toBe(1);
    expect(await s2.getBand("0011223344556677")).toMatchObject({ registeredAt: 1, changedAt: 1, health: null });
    await s2.close();
  });

  pgTest("nodes starting together migrate once", async () => {
    const stores = await Promise.all([1, 2, 3].map(() => PostgresStore.open(url)));
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const rows = (await c.query("SELECT version FROM schema_migrations ORDER BY version")).rows;
    await c.end();
    expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
    await Promise.all(stores.map((s) => s.close()));
  });

  pgTest("a database from a newer tracelet is refused", async () => {
    await (await PostgresStore.open(url)).close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
    await c.end();
    await expect(PostgresStore.open(url)).rejects.toThrow(/newer/);
  });
});

describe("PostgreSQL connection errors", () => {
  test("a server that is not there is named without its password", async () => {
    // A port nothing listens on: bind one, note it, close it.
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const err = await PostgresStore.open(`postgres://tracelet:s3cret-Pa55@127.0.0.1:${port}/authority`).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toBe(
      `cannot open PostgreSQL database postgres://tracelet:***@127.0.0.1:${port}/authority: connection refused (is the server running?)`,
    );
    expect(err?.message).not.toContain("s3cret");
  });

  test("redaction covers the raw and the URL-decoded password", () => {
    const url = "postgres://u:p%40ss%2Fword@db.example:5432/x";
    expect(redactUrl(url)).toBe("postgres://u:***@db.example:5432/x");
    expect(redactSecret("auth failed for p@ss/word and p%40ss%2Fword at " + url, url)).toBe(
      "auth failed for *** and *** at postgres://u:***@db.example:5432/x",
    );
  });
});

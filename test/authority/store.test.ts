import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Database from "better-sqlite3";
import { SqliteStore } from "../../host-tools/src/authority/store/sqlite";
import { MIGRATIONS } from "../../host-tools/src/authority/store/migrations";
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

import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BandRegistry } from "../../host-tools/src/authority/bands";
import { parseConfig } from "../../host-tools/src/authority/config";
import { open } from "../../host-tools/src/authority/crypto/secret-box";
import { deriveServerSubkeys } from "../../host-tools/src/authority/crypto/server-keys";
import { secretsFromFile } from "../../host-tools/src/authority/secrets";
import { openStore } from "../../host-tools/src/authority/store/open";
import { AuthorityStore } from "../../host-tools/src/authority/store/store";
import { BandRecord, FileSink } from "../../host-tools/src/flash/registry";
import { loadRegistryFile } from "../../host-tools/src/kiosk/registry-file";
import { runCli } from "../helpers/cli";
import { Backend, describeEachBackend, dropPostgres, freshPostgresUrl } from "../postgres";
import { startTestAuthority } from "./helpers";

/**
 * `tracelet authority registry import`: the registry file the flasher writes offline (its FileSink) goes into
 * the authority's band registry, and `registry export` then hands the same sync keys to kiosks.
 */

const hex = (n: number) => randomBytes(n).toString("hex");

interface Authority {
  db: string;
  secrets: string;
  serverKey: Buffer;
  /** The CLI's database arguments: a SQLite file finds its secrets beside it, a postgres:// URL is given them. */
  dbArgs: string[];
}

/** PostgreSQL databases made for this file, dropped at the end. */
const pgDatabases: string[] = [];

/** A fresh authority database and its secrets file, as `authority serve` leaves them. */
async function makeAuthority(
  dir: string,
  name: string,
  deployment: "private" | "escrow",
  backend: Backend,
): Promise<Authority> {
  const file = path.join(dir, `${name}.db`);
  const db = backend === "postgres" ? await freshPostgresUrl() : file;
  if (backend === "postgres") pgDatabases.push(db);
  const t = await startTestAuthority({ deployment, rateLimits: { enabled: false } }, db);
  const secrets = `${file}.secrets.json`;
  try {
    fs.writeFileSync(secrets, JSON.stringify(t.secretsFile), { mode: 0o600 });
  } finally {
    await t.close();
  }
  return {
    db,
    secrets,
    serverKey: secretsFromFile(t.secretsFile, parseConfig({})).serverKey,
    dbArgs: backend === "postgres" ? ["--db", db, "--secrets", secrets] : ["--db", db],
  };
}

/** Bands recorded the way `tracelet flash --registry <file>` records them. */
async function flasherFile(file: string, escrow: boolean, n: number, board = "puckjs"): Promise<BandRecord[]> {
  const sink = new FileSink(file);
  await sink.check();
  const out: BandRecord[] = [];
  for (let i = 0; i < n; i++) {
    const r: BandRecord = { bandId: hex(8), board, syncKey: hex(16) };
    if (escrow) r.escrowSecret = hex(16);
    expect(await sink.taken(r)).toBe(false);
    await sink.add(r);
    out.push(r);
  }
  return out;
}

function importCli(a: Authority, file: string, extra: string[] = []) {
  return runCli(["authority", "registry", "import", ...a.dbArgs, "--in", file, ...extra]);
}

async function withStore<T>(db: string, f: (s: AuthorityStore) => Promise<T>): Promise<T> {
  const s = await openStore(db);
  try {
    return await f(s);
  } finally {
    await s.close();
  }
}

describeEachBackend("tracelet authority registry import", (backend) => {
  let dir: string;
  let escrowConfig: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-registry-import-"));
    escrowConfig = path.join(dir, "escrow.json");
    fs.writeFileSync(escrowConfig, JSON.stringify({ deployment: "escrow" }));
  });
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const db of pgDatabases.splice(0)) await dropPostgres(db);
  });

  test("a private deployment's flasher file: imported, audited as the flasher, exported with the same sync keys", async () => {
    const a = await makeAuthority(dir, "private", "private", backend);
    const file = path.join(dir, "flashed.json");
    const bands = await flasherFile(file, false, 4);
    const r = importCli(a, file, ["--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ in: file, created: 4, unchanged: 0, updated: 0, conflicts: [] });
    for (const b of bands) expect(r.stdout).not.toContain(b.syncKey);

    const out = path.join(dir, "exported.json");
    const e = runCli(["authority", "registry", "export", ...a.dbArgs, "--out", out, "--json"]);
    expect(e.status).toBe(0);
    const exported = loadRegistryFile(out).bands;
    expect([...exported].sort((x, y) => x.bandId.localeCompare(y.bandId))).toEqual(
      [...bands].sort((x, y) => x.bandId.localeCompare(y.bandId)),
    );

    const audit = await withStore(a.db, (s) => s.listAudit(100));
    const created = audit.filter((x) => x.action === "band.created");
    expect(created.map((x) => x.subject).sort()).toEqual(bands.map((b) => b.bandId).sort());
    for (const x of created) {
      expect(x.actor).toBe("flasher:import:flashed.json");
      expect(x.detail).toEqual({ board: "puckjs", escrow: false, syncKey: true });
    }

    // The same file again: nothing changes, nothing new in the audit log.
    const again = importCli(a, file);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/4 band\(s\): 0 created, 4 unchanged, 0 conflict\(s\)/);
    expect((await withStore(a.db, (s) => s.listAudit(100))).filter((x) => x.action === "band.created")).toHaveLength(4);
  });

  test("an escrow deployment's file: each escrow secret lands sealed under the escrow subkey, bound to its band", async () => {
    const a = await makeAuthority(dir, "escrow", "escrow", backend);
    const file = path.join(dir, "escrow-flashed.json");
    const bands = await flasherFile(file, true, 3);
    const r = importCli(a, file, ["--config", escrowConfig]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/3 created/);
    for (const b of bands) {
      expect(r.stdout + r.stderr).not.toContain(b.escrowSecret as string);
      expect(r.stdout + r.stderr).not.toContain(b.syncKey);
    }
    const sub = deriveServerSubkeys(a.serverKey);
    await withStore(a.db, async (s) => {
      const registry = new BandRegistry(s, parseConfig({ deployment: "escrow" }), sub.escrowSeal, sub.syncKeySeal);
      for (const b of bands) {
        expect(await registry.get(b.bandId)).toMatchObject({ escrow: true, hasSyncKey: true, board: "puckjs" });
        const row = (await s.getBand(b.bandId))!;
        const aad = Buffer.from(b.bandId, "hex");
        expect(open(sub.escrowSeal, row.secretSealed!, aad)?.toString("hex")).toBe(b.escrowSecret);
        expect(open(sub.syncKeySeal, row.syncKeySealed!, aad)?.toString("hex")).toBe(b.syncKey);
      }
    });
  });

  test("escrow secrets into a private-deployment authority: refused by band id before anything changes", async () => {
    const a = await makeAuthority(dir, "private2", "private", backend);
    const file = path.join(dir, "escrow-to-private.json");
    const bands = await flasherFile(file, true, 2);
    const r = importCli(a, file);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`band ${bands[0].bandId}: it carries an escrow secret`);
    expect(r.stderr).toMatch(/private deployment.*nothing was imported \(exit 3 BAD_INPUT\)/);
    expect(r.stderr).not.toContain(bands[0].escrowSecret as string);
    expect((await withStore(a.db, (s) => s.counts())).bands).toBe(0);
  });

  test("a band id already registered with other keys is a conflict named by id; the others are imported", async () => {
    const a = await makeAuthority(dir, "conflict", "private", backend);
    const first = path.join(dir, "first.json");
    const [kept] = await flasherFile(first, false, 1);
    expect(importCli(a, first).status).toBe(0);

    const second = path.join(dir, "second.json");
    const others = await flasherFile(second, false, 2);
    const clash = { bandId: kept.bandId, board: "puckjs", syncKey: hex(16) };
    await new FileSink(second).add(clash);
    const r = importCli(a, second, ["--json"]);
    expect(r.status).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ created: 2, unchanged: 0, conflicts: [kept.bandId] });
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(
      new RegExp(`1 band\\(s\\) already registered with other keys: ${kept.bandId} .*BAD_INPUT`),
    );
    expect(r.stdout + r.stderr).not.toContain(clash.syncKey);
    expect(r.stdout + r.stderr).not.toContain(kept.syncKey);

    // The registered band kept its key; the other two are there.
    const out = path.join(dir, "after-conflict.json");
    expect(runCli(["authority", "registry", "export", ...a.dbArgs, "--out", out]).status).toBe(0);
    const exported = new Map(loadRegistryFile(out).bands.map((b) => [b.bandId, b.syncKey]));
    expect(exported.get(kept.bandId)).toBe(kept.syncKey);
    for (const b of others) expect(exported.get(b.bandId)).toBe(b.syncKey);
    expect(exported.size).toBe(3);
  });

  test("an unknown board stops the import before anything changes", async () => {
    const a = await makeAuthority(dir, "board", "private", backend);
    const file = path.join(dir, "moon.json");
    await flasherFile(file, false, 1);
    await flasherFile(file, false, 1, "moonboard");
    const r = importCli(a, file);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/unknown board "moonboard".*nothing was imported/);
    expect((await withStore(a.db, (s) => s.counts())).bands).toBe(0);
  });

  test.each<[string, (f: string) => void, number, RegExp]>([
    ["not JSON", (f) => fs.writeFileSync(f, "{bands: [", { mode: 0o600 }), 3, /is not JSON: .* \(exit 3 BAD_INPUT\)$/],
    [
      "another kind of file",
      (f) => fs.writeFileSync(f, JSON.stringify({ version: 1, kind: "tracelet-scenario", bands: [] }), { mode: 0o600 }),
      3,
      /is not a Tracelet band registry \(kind "tracelet-scenario"/,
    ],
    [
      "a bad sync key",
      (f) =>
        fs.writeFileSync(
          f,
          JSON.stringify({
            version: 1,
            kind: "tracelet-band-registry",
            exportedAt: "2026-01-01T00:00:00Z",
            bands: [{ bandId: hex(8), board: "puckjs", syncKey: "xyz" }],
          }),
          { mode: 0o600 },
        ),
      3,
      /bands\[0\]\.syncKey: must be 32 hex digits/,
    ],
    [
      "readable by others",
      (f) => {
        fs.writeFileSync(f, "{}");
        fs.chmodSync(f, 0o644);
      },
      10,
      /holds band sync keys but is readable by group or others \(mode 0644\); chmod 600 .* \(exit 10 FILE\)$/,
    ],
    ["missing", () => undefined, 10, /--in: cannot read .*ENOENT/],
  ])("a file that is %s: one line, the right exit code, nothing registered", async (_what, make, code, message) => {
    const a = await makeAuthority(dir, `bad-${code}-${hex(2)}`, "private", backend);
    const file = path.join(dir, `bad-${hex(4)}.json`);
    make(file);
    const r = importCli(a, file);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(/^tracelet authority registry import: /);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.status).toBe(code);
    expect((await withStore(a.db, (s) => s.counts())).bands).toBe(0);
  });
});

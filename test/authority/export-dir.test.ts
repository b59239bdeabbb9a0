import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { AuthorityApp } from "../../host-tools/src/authority/app";
import { parseConfig } from "../../host-tools/src/authority/config";
import { syncExportDir } from "../../host-tools/src/authority/export/publish-dir";
import { secretsFromFile } from "../../host-tools/src/authority/secrets";
import { runCli } from "../helpers/cli";
import { Backend, describeEachBackend, dropPostgres, freshPostgresUrl, testDb } from "../postgres";
import { call, certify, makeKeys, publishBody, startTestAuthority, TestAuthority } from "./helpers";

/**
 * Exports for a CDN (config exports.publishDir, exports.serve; `tracelet authority exports write`): the directory
 * tree, served by a plain static server, answers byte for byte what the API's /v1/exports/* answers.
 */

/** A static file server over `root`, as a CDN origin would be: GET <path> is the file <root>/<path>, else 404. */
async function staticServer(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = path.join(root, rel);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200).end(fs.readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function get(base: string, p: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(base + p);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** Publishes `days` keys through the kiosk flow. */
async function publish(t: TestAuthority, days = 3, today?: number): Promise<void> {
  const keys = makeKeys(days, today);
  const c = await certify(t, keys);
  const r = await call(t, "POST", "/v1/publish", { json: publishBody(keys, c.certificate, c.hmacKey) });
  expect(r.status).toBe(200);
}

/** Asserts the static server answers index.txt, signing-key.pem, signing-keys.json and every listed zip byte for byte like the API. */
async function expectSameAsApi(api: string, cdn: string): Promise<string[]> {
  const index = await get(api, "/v1/exports/index.txt");
  expect(index.status).toBe(200);
  const names = index.body.toString("utf8").split("\n").filter(Boolean);
  for (const p of ["v1/exports/index.txt", "v1/exports/signing-key.pem", "v1/exports/signing-keys.json", ...names]) {
    const [a, b] = [await get(api, "/" + p), await get(cdn, "/" + p)];
    expect([p, b.status]).toEqual([p, 200]);
    expect(b.body.equals(a.body)).toBe(true);
  }
  return names;
}

const zipsIn = (root: string) =>
  fs
    .readdirSync(path.join(root, "v1", "exports"))
    .filter((n) => n.endsWith(".zip"))
    .sort();

describeEachBackend("export directory for a CDN", (backend: Backend) => {
  let dir: string;
  let root: string;
  let t: TestAuthority;
  let cdn: { url: string; close: () => Promise<void> };
  const config = () => ({
    rateLimits: { enabled: false },
    exports: { publishDir: root, minRecords: 0 },
  });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-export-dir-"));
    root = path.join(dir, "www");
    t = await startTestAuthority(config(), testDb(backend));
    cdn = await staticServer(root);
  });
  afterEach(async () => {
    await cdn.close();
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("after a generation the directory serves byte-identical files, and the index names only files on disk", async () => {
    await publish(t);
    await publish(t, 2);
    t.clock.ms += 3600 * 1000;
    await t.app.runPendingWork();
    const names = await expectSameAsApi(t.url, cdn.url);
    expect(names.length).toBeGreaterThanOrEqual(1);
    for (const n of names) expect(fs.existsSync(path.join(root, n))).toBe(true);
    // Nothing but the tree: no temporary files left beside the exports.
    expect(fs.readdirSync(path.join(root, "v1", "exports")).filter((n) => n.startsWith("."))).toEqual([]);
    // A later window adds its file; the earlier ones stay.
    await publish(t);
    t.clock.ms += 3600 * 1000;
    await t.app.runPendingWork();
    const more = await expectSameAsApi(t.url, cdn.url);
    expect(more.length).toBeGreaterThan(names.length);
    expect(more.slice(0, names.length)).toEqual(names);
  });

  test("a generation started by an index.txt request syncs the directory too, without a background pass", async () => {
    await t.app.exportDir!.idle();
    await publish(t);
    t.clock.ms += 3600 * 1000;
    const listed = (await call(t, "GET", "/v1/exports/index.txt")).text.split("\n").filter(Boolean);
    expect(listed).toHaveLength(1);
    await t.app.exportDir!.idle();
    expect(zipsIn(root)).toEqual([listed[0].slice("v1/exports/".length)]);
    expect(await expectSameAsApi(t.url, cdn.url)).toEqual(listed);
  });

  test("a purge removes the purged files from the directory", async () => {
    await publish(t);
    t.clock.ms += 3600 * 1000;
    await t.app.runPendingWork();
    expect(zipsIn(root).length).toBeGreaterThanOrEqual(1);
    t.clock.ms += 15 * 86400 * 1000; // past exports.retentionDays (14)
    await t.app.runPendingWork();
    expect((await t.store.counts()).exportFiles).toBe(0);
    expect(zipsIn(root)).toEqual([]);
    expect(fs.readFileSync(path.join(root, "v1", "exports", "index.txt"), "utf8")).toBe("");
    await expectSameAsApi(t.url, cdn.url);
  });

  test("a node that starts re-syncs the directory: missing and altered files rewritten, strays removed", async () => {
    for (let window = 0; window < 2; window++) {
      await publish(t);
      t.clock.ms += 3600 * 1000;
      await t.app.runPendingWork();
    }
    const zips = zipsIn(root);
    expect(zips).toHaveLength(2);
    const folder = path.join(root, "v1", "exports");
    fs.rmSync(path.join(folder, zips[0]));
    fs.rmSync(path.join(folder, "index.txt"));
    fs.writeFileSync(path.join(folder, zips[1]), "not the export");
    const stray = "1000-2000-00001.zip"; // a file the store never held (or purged)
    fs.writeFileSync(path.join(folder, stray), "old");
    // The running node does not notice (nothing changed in the store)...
    await t.app.runPendingWork();
    expect(fs.existsSync(path.join(folder, zips[0]))).toBe(false);
    // ... a node starting on the same database does.
    const cfg = parseConfig(config());
    const logs: string[] = [];
    const second = new AuthorityApp({
      config: cfg,
      secrets: secretsFromFile(t.secretsFile, cfg),
      store: t.store,
      now: () => t.clock.ms,
      log: (l) => logs.push(l),
      backgroundWork: false,
    });
    await second.runPendingWork();
    expect(zipsIn(root)).toEqual(zips);
    await expectSameAsApi(t.url, cdn.url);
    expect(logs.join("\n")).toMatch(/export directory .*: 2 file\(s\) written, 1 removed/);
  });

  test("an unwritable directory is a clear logged error; the batch stays in the store and the next pass catches up", async () => {
    await t.app.runPendingWork();
    fs.rmSync(root, { recursive: true, force: true });
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, "v1"), "a file where the folder goes");
    await publish(t);
    t.clock.ms += 3600 * 1000;
    await t.app.runPendingWork();
    const failure = t.logs.find((l) => l.includes("cannot write the export directory"));
    expect(failure).toContain(path.join(root, "v1", "exports"));
    expect(failure).toContain("retried at the next export pass");
    expect(t.app.exportDir?.lastError).toBeTruthy();
    expect((await call(t, "GET", "/healthz")).json.exportDir).toEqual({ ok: false });
    for (const secret of [t.adminKey, t.kioskKey, t.secretsFile.serverKey]) {
      expect(t.logs.join("\n")).not.toContain(secret);
    }
    const listed = (await call(t, "GET", "/v1/exports/index.txt")).text.split("\n").filter(Boolean);
    expect(listed.length).toBeGreaterThanOrEqual(1); // the batch is not lost
    fs.rmSync(path.join(root, "v1"));
    t.clock.ms += 60 * 1000;
    await t.app.runPendingWork();
    expect(t.app.exportDir?.lastError).toBeNull();
    expect((await call(t, "GET", "/healthz")).json.exportDir).toBeUndefined();
    expect(t.logs.some((l) => /export directory .* caught up/.test(l))).toBe(true);
    expect(await expectSameAsApi(t.url, cdn.url)).toEqual(listed);
  });
});

describe("syncExportDir", () => {
  test("a zip on disk that the store gained after the listing (another node's) is not removed", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-export-dir-"));
    try {
      const folder = path.join(root, "v1", "exports");
      fs.mkdirSync(folder, { recursive: true });
      const row = (name: string) => ({
        name,
        startTs: 0,
        endTs: 3600,
        batchNum: 1,
        batchSize: 1,
        keyCount: 1,
        createdAt: 0,
        zip: Buffer.from(name),
      });
      const rows = new Map([["0-3600-00001.zip", row("0-3600-00001.zip")]]);
      fs.writeFileSync(path.join(folder, "3600-7200-00001.zip"), "3600-7200-00001.zip"); // stored after the listing
      fs.writeFileSync(path.join(folder, "7200-10800-00001.zip"), "purged");
      const store = {
        listExportFiles: async () => [...rows.values()].map(({ zip: _zip, ...info }) => info),
        getExportFile: async (name: string) =>
          name === "3600-7200-00001.zip" ? { ...row(name), startTs: 3600, endTs: 7200 } : rows.get(name),
      };
      const r = await syncExportDir({ root, store, indexSince: 0, signingKeyPem: "pem", verify: true });
      expect(r).toMatchObject({ files: 1, written: 1, removed: 1, listed: 1 });
      expect(fs.readdirSync(folder).sort()).toEqual([
        "0-3600-00001.zip",
        "3600-7200-00001.zip",
        "index.txt",
        "signing-key.pem",
      ]);
      expect(fs.readFileSync(path.join(folder, "index.txt"), "utf8")).toBe("v1/exports/0-3600-00001.zip\n");
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("exports.serve false: API nodes leave phone traffic to the CDN", () => {
  let t: TestAuthority;
  afterEach(async () => {
    await t.close();
  });

  test.each([
    ["/v1/exports/index.txt"],
    ["/v1/exports/signing-key.pem"],
    ["/v1/exports/signing-keys.json"],
    ["/v1/exports/1741600800-1741604400-00001.zip"],
  ])("%s answers 404 exports_not_served naming the CDN", async (p) => {
    t = await startTestAuthority({ exports: { serve: false, cdnUrl: "https://cdn.example.org/v1/exports/" } });
    const r = await call(t, "GET", p);
    expect(r.status).toBe(404);
    expect(r.json).toEqual({
      code: "exports_not_served",
      error: "export files are not served by this node; fetch them from https://cdn.example.org/v1/exports/",
      cdnUrl: "https://cdn.example.org/v1/exports/",
    });
  });

  test("serving stays the default", async () => {
    t = await startTestAuthority({});
    expect((await call(t, "GET", "/v1/exports/signing-key.pem")).status).toBe(200);
  });

  test("config: publishDir is resolved against the config file's folder; a bad cdnUrl is refused", () => {
    expect(parseConfig({ exports: { publishDir: "www" } }, "/etc/tracelet").exports.publishDir).toBe(
      path.resolve("/etc/tracelet", "www"),
    );
    expect(() => parseConfig({ exports: { cdnUrl: "not a url" } })).toThrow(/exports\.cdnUrl/);
  });
});

describeEachBackend("tracelet authority exports write", (backend: Backend) => {
  let dir: string;
  let t: TestAuthority;
  let dbArgs: string[];
  let pgUrl: string | undefined;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-exports-write-"));
    const file = path.join(dir, "auth.db");
    pgUrl = backend === "postgres" ? await freshPostgresUrl() : undefined;
    t = await startTestAuthority({ rateLimits: { enabled: false }, exports: { minRecords: 0 } }, pgUrl ?? file);
    const secrets = `${file}.secrets.json`;
    fs.writeFileSync(secrets, JSON.stringify(t.secretsFile), { mode: 0o600 });
    dbArgs = pgUrl ? ["--db", pgUrl, "--secrets", secrets] : ["--db", file];
    // The CLI's index.txt uses the real clock: keys of the real last days, so both index.txt list the file.
    t.clock.ms = Date.now();
    await publish(t, 3, Math.floor(t.clock.ms / 86400000));
    t.clock.ms += 3600 * 1000;
    await t.app.runPendingWork();
  });
  afterAll(async () => {
    await t.close();
    if (pgUrl) await dropPostgres(pgUrl);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("writes the tree the API serves, and rewrites a file that differs", async () => {
    const out = path.join(dir, "origin");
    const r = runCli(["authority", "exports", "write", ...dbArgs, "--out", out, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.files).toBe((await t.store.counts()).exportFiles);
    expect(info.files).toBeGreaterThanOrEqual(1);
    expect(info.written).toBe(info.files);
    const cdn = await staticServer(out);
    try {
      expect((await get(cdn.url, "/v1/exports/index.txt")).body.toString()).toMatch(
        /^v1\/exports\/\d+-\d+-00001\.zip\n/,
      );
      const stored = (await t.store.listExportFiles(-1)).map((f) => "v1/exports/" + f.name);
      for (const p of [
        "v1/exports/index.txt",
        "v1/exports/signing-key.pem",
        "v1/exports/signing-keys.json",
        ...stored,
      ]) {
        const [a, b] = [await get(t.url, "/" + p), await get(cdn.url, "/" + p)];
        expect([p, a.status, b.status]).toEqual([p, 200, 200]);
        expect(b.body.equals(a.body)).toBe(true);
      }
      const zip = stored[0].slice("v1/exports/".length);
      fs.writeFileSync(path.join(out, "v1", "exports", zip), "tampered");
      const again = runCli(["authority", "exports", "write", ...dbArgs, "--out", out, "--json"]);
      expect(again.status).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ files: info.files, written: 1, removed: 0 });
      expect((await get(cdn.url, "/" + stored[0])).body.equals((await get(t.url, "/" + stored[0])).body)).toBe(true);
    } finally {
      await cdn.close();
    }
  });

  test.each([
    ["a file", (d: string) => fs.writeFileSync(d, "x"), "", /it is not a folder \(exit 10 FILE\)/],
    ["inside a file", (d: string) => fs.writeFileSync(d, "x"), "sub", /cannot write exports to .*: .*\(exit 10 FILE\)/],
  ])("--out %s fails with exit 10 and a clear message", (_what, make, sub, message) => {
    const blocker = path.join(dir, `blocker-${sub || "file"}`);
    make(blocker);
    const r = runCli(["authority", "exports", "write", ...dbArgs, "--out", path.join(blocker, sub)]);
    expect(r.status).toBe(10);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(fs.readFileSync(blocker, "utf8")).toBe("x");
  });
});

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import pg from "pg";
import { dropPostgres, freshPostgresUrl, PG_SKIP_REASON, PG_URL } from "../postgres";
import {
  call,
  certify,
  expectExportedOnce,
  makeKeys,
  publishBody,
  startTestAuthority,
  TestAuthority,
  TestKey,
} from "./helpers";
import { readExportZip } from "./independent-export";
import { serveProcess, ServeProcess } from "./serve-process";

/**
 * Two `tracelet authority serve` processes on one PostgreSQL database, as a national deployment runs them
 * behind a load balancer: the same certificate sent to both at once publishes once; a publish burst split over
 * both survives kill -9 of one node (every acknowledged key stored exactly once, nothing half there); both
 * nodes then build the export files at the same moment, and every window's batches are there once, signed,
 * with every acknowledged key in exactly one file (read with the independent decoder).
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Job {
  keys: TestKey[];
  body: unknown;
  acked: boolean;
}

async function post(url: string, body: unknown): Promise<number> {
  try {
    const r = await fetch(url + "/v1/publish", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0; // the node was killed mid-request: not acknowledged
  }
}

(PG_URL ? describe : describe.skip)(
  `authority: two API nodes on one PostgreSQL${PG_URL ? "" : " " + PG_SKIP_REASON}`,
  () => {
    let dir: string;
    let db: string;
    const nodes: ServeProcess[] = [];
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-authority-nodes-"));
      db = await freshPostgresUrl();
    });
    afterAll(async () => {
      for (const n of nodes) {
        if (n.alive()) {
          n.child.kill("SIGKILL");
          await n.exited;
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
      await dropPostgres(db);
    });

    test("publish exactly once across nodes, kill -9 of one mid-burst, exports built once", async () => {
      const config = {
        deployment: "private",
        rateLimits: { enabled: false },
        exports: { windowMinutes: 1, maxKeysPerFile: 500 },
        secretsFile: path.join(dir, "secrets.json"),
      };
      const start = async (name: string) => {
        const n = await serveProcess(db, config, path.join(dir, name + ".config.json"));
        nodes.push(n);
        return n;
      };
      const a = await start("a");
      const b = await start("b");
      expect(b.adminKey).toBe(a.adminKey); // one secrets file for every node

      // Codes are issued on one node and claimed on the other: the database is the only state they share.
      const today = Math.floor(Date.now() / 86400000);
      const jobs: Job[] = [];
      await Promise.all(
        Array.from({ length: 6 }, async (_, w) => {
          for (let i = w; i < 200; i += 6) {
            const keys = makeKeys(14, today);
            const c = await certify((i % 2 ? a : b) as unknown as TestAuthority, keys);
            jobs.push({ keys, body: publishBody(keys, c.certificate, c.hmacKey), acked: false });
          }
        }),
      );

      // 1. The same certificate to both nodes at once: exactly one publishes.
      const twice = jobs.slice(0, 30);
      const answers = await Promise.all(twice.map((j) => Promise.all([post(a.url, j.body), post(b.url, j.body)])));
      for (const [i, pair] of answers.entries()) {
        expect(pair.filter((s) => s === 200)).toHaveLength(1);
        expect(pair.filter((s) => s !== 200)).toEqual([expect.any(Number)]);
        twice[i].acked = true;
      }

      // 2. A burst over both nodes (8 clients each); node a is killed once 60 more publishes were acknowledged.
      const rest = jobs.slice(30);
      let next = 0;
      const client = (url: string) => async () => {
        while (next < rest.length) {
          const job = rest[next++];
          if ((await post(url, job.body)) === 200) job.acked = true;
          else if (url === a.url && !a.alive()) return;
        }
      };
      const burst = Promise.all([
        ...Array.from({ length: 8 }, client(a.url)),
        ...Array.from({ length: 8 }, client(b.url)),
      ]);
      while (rest.filter((j) => j.acked).length < 60) await sleep(5);
      a.child.kill("SIGKILL");
      await a.exited;
      await burst;
      // Jobs node a took but never answered go to b now: a retry with the same certificate is safe.
      for (const j of rest.filter((x) => !x.acked)) if ((await post(b.url, j.body)) === 200) j.acked = true;

      // Every acknowledged key is stored exactly once; no publish is half there.
      const c = new pg.Client({ connectionString: db });
      await c.connect();
      let perJob: number[];
      let total: number;
      try {
        perJob = [];
        for (const j of jobs) {
          const r = await c.query("SELECT COUNT(*)::INT AS n FROM exposures WHERE key_data = ANY($1::BYTEA[])", [
            j.keys.map((k) => k.bytes),
          ]);
          perJob.push(r.rows[0].n as number);
        }
        total = (await c.query("SELECT COUNT(*)::INT AS n FROM exposures")).rows[0].n as number;
      } finally {
        await c.end();
      }
      jobs.forEach((j, i) => expect(j.acked ? [14] : [0, 14]).toContain(perJob[i]));
      expect(total).toBe(perJob.reduce((s, n) => s + n, 0));
      const acked = jobs.filter((j) => j.acked);
      expect(acked.length).toBeGreaterThanOrEqual(170);

      // 3. Node a comes back; once the export window has closed both nodes are asked for the index at once:
      // the files are built by one of them, and both list the same ones.
      const a2 = await start("a2");
      await sleep(61_000 - (Date.now() % 60_000));
      const index = async (n: ServeProcess) => (await (await fetch(n.url + "/v1/exports/index.txt")).text()).trim();
      const closedAt = Math.floor(Date.now() / 60_000) * 60;
      const [ia, ib] = await Promise.all([index(a2), index(b)]);
      expect(ia).toBe(ib);
      const names = ia.split("\n").filter(Boolean);
      expect(names.length).toBeGreaterThan(0);
      expect(new Set(names).size).toBe(names.length);

      const pem = await (await fetch(b.url + "/v1/exports/signing-key.pem")).text();
      const seen = new Map<string, number>();
      const batches = new Map<string, number[]>();
      for (const name of names) {
        const zip = Buffer.from(await (await fetch(a2.url + "/" + name)).arrayBuffer());
        const e = await readExportZip(zip, pem);
        expect(e.signatureValid).toBe(true);
        for (const k of e.keys) seen.set(k.keyHex, (seen.get(k.keyHex) ?? 0) + 1);
        const w = `${e.startTimestamp}-${e.endTimestamp}`;
        batches.set(w, [...(batches.get(w) ?? []), e.batchNum]);
      }
      for (const nums of batches.values()) expect(nums.sort((x, y) => x - y)).toEqual(nums.map((_, i) => i + 1));
      for (const j of acked) expectExportedOnce(seen, j.keys, closedAt);
    }, 180_000);

    test("guess lockouts and rate limits hold across nodes", async () => {
      const url = await freshPostgresUrl();
      const config = { trustProxy: true, rateLimits: { verifyPerMinute: 6, lockoutFailures: 4 } };
      const a = await startTestAuthority(config, url);
      const b = await startTestAuthority(config, url, a.secretsFile);
      try {
        const guess = (t: TestAuthority, i: number, ip = `203.0.113.${i}`) =>
          call(t, "POST", "/api/verify", {
            key: t.kioskKey,
            json: { code: String(30000000 + i) },
            headers: { "x-forwarded-for": ip },
          });
        // Four failed guesses with one kiosk key, two on each node: the key is locked out on both.
        for (let i = 0; i < 4; i++) expect((await guess(i % 2 ? a : b, i)).status).toBe(400);
        for (const t of [a, b]) expect((await guess(t, 50)).json.code).toBe("locked_out");
        // One address, six verify requests a minute, spread over both nodes: the seventh is refused.
        const statuses: number[] = [];
        for (let i = 0; i < 8; i++) {
          const t = i % 2 ? a : b;
          statuses.push(
            (await call(t, "POST", "/api/verify", { json: {}, headers: { "x-forwarded-for": "198.51.100.7" } })).status,
          );
        }
        expect(statuses.slice(0, 6)).not.toContain(429);
        expect(statuses.slice(6)).toEqual([429, 429]);
      } finally {
        await a.close();
        await b.close();
        await dropPostgres(url);
      }
    });
  },
);

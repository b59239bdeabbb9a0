import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import pg from "pg";
import { parseConfig } from "../../host-tools/src/authority/config";
import { seal } from "../../host-tools/src/authority/crypto/secret-box";
import { deriveServerSubkeys } from "../../host-tools/src/authority/crypto/server-keys";
import { F1Resolver } from "../../host-tools/src/authority/f1/service";
import { secretsFromFile, SecretsFile } from "../../host-tools/src/authority/secrets";
import { SqliteStore } from "../../host-tools/src/authority/store/sqlite";
import { PostgresStore } from "../../host-tools/src/authority/store/postgres";
import { ContactRow } from "../../host-tools/src/authority/store/store";
import { dropPostgres, freshPostgresUrl, PG_SKIP_REASON, PG_URL } from "../postgres";
import {
  bandKeys,
  bandSecretOf,
  certify,
  expectExportedOnce,
  makeKeys,
  publishBody,
  registerBand,
  TestAuthority,
  TestKey,
  uploadLog,
  positiveLogOf,
} from "./helpers";
import { readExportZip } from "./independent-export";
import { serveProcess, ServeProcess, workerProcess, WorkerProcess } from "./serve-process";

/**
 * The national deployment's crash test (issue 20): two `authority serve` nodes and two `authority worker`
 * processes on one PostgreSQL database, an escrow deployment with F1 resolution split into jobs of one day x
 * a range of registered bands. A publish burst and positive log uploads go to both nodes; node a is killed with
 * SIGKILL mid-burst, and worker b with SIGKILL while it holds an F1 job. Then: every acknowledged key is stored
 * exactly once; once the export window closed, every export batch is there once with a valid signature and
 * every acknowledged key in exactly one file; worker b's job was handed back after its lease (2 s) and every
 * F1 job was completed once (worker a's count of completions equals the jobs it is recorded on), with the
 * contacts the single-process engine finds in the same logs.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const LEASE_S = 2;
/** Registered escrow bands that no log met: they make each job take long enough to be killed in. */
const FILLER_BANDS = 12_000;
const JOB_BANDS = 3000;

const positives = Array.from({ length: 6 }, () => randomBytes(8));
const contacts = Array.from({ length: 8 }, () => randomBytes(8));

function logOf(i: number, today: number): Buffer {
  return positiveLogOf(positives[i], contacts, i, today);
}

async function post(url: string, pathName: string, body: unknown): Promise<number> {
  try {
    const r = await fetch(url + pathName, {
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

async function upload(n: ServeProcess, log: Buffer, c: { certificate: string; hmacKey: Buffer }, keys: TestKey[]) {
  try {
    return (await uploadLog(n, log, c.certificate, c.hmacKey, keys)).status;
  } catch {
    return 0;
  }
}

/** The worklist fields both engines decide (row ids, update times and log ids differ between the runs). */
function decided(rows: ContactRow[]): unknown[] {
  return rows
    .map((c) => ({
      f0: c.f0BandId,
      f1: c.f1BandId,
      day: c.day,
      minutes: c.minutes,
      minAttenuationDb: c.minAttenuationDb,
      sightings: c.sightings,
      firstSeen: c.firstSeen,
      lastSeen: c.lastSeen,
      closeContact: c.closeContact,
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** The single-process engine (whole logs, in-process, SQLite) on the same bands and logs. */
async function reference(logs: Buffer[], now: number): Promise<unknown[]> {
  const config = parseConfig({ deployment: "escrow" });
  const key = randomBytes(32);
  const store = new SqliteStore(":memory:");
  try {
    for (const b of [...positives, ...contacts])
      await store.insertBand({
        bandId: b.toString("hex"),
        board: "puckjs",
        registeredAt: now,
        registeredBy: "test",
        secretSealed: seal(key, bandSecretOf(b), b),
      });
    const resolver = new F1Resolver({ store, config, escrowSealKey: key, now: () => now, log: () => undefined });
    for (const [i, log] of logs.entries()) {
      const r = await store.storeBandLog({
        jti: `ref-${i}`,
        sha256: randomBytes(32),
        bandId: positives[i].toString("hex"),
        body: log,
        segments: 2,
        records: 6,
        uploadedAt: now,
        reportType: "confirmed",
        symptomOnsetInterval: null,
        resolution: "pending",
      });
      if (r.status !== "stored") throw new Error("reference log not stored");
      await resolver.resolveOne(r.id);
    }
    return decided(await store.listContacts({ limit: 10_000, offset: 0 }));
  } finally {
    await store.close();
  }
}

(PG_URL ? describe : describe.skip)(
  `authority: two API nodes and two F1 workers, kill -9 of one of each${PG_URL ? "" : " " + PG_SKIP_REASON}`,
  () => {
    let dir: string;
    let db: string;
    const nodes: ServeProcess[] = [];
    const workers: WorkerProcess[] = [];
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-authority-cluster-"));
      db = await freshPostgresUrl();
    });
    afterAll(async () => {
      for (const p of [...nodes, ...workers]) {
        if (p.alive()) {
          p.child.kill("SIGKILL");
          await p.exited;
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
      await dropPostgres(db);
    });

    test("every acknowledged key once, every export batch once and signed, every F1 job done once", async () => {
      const secretsFile = path.join(dir, "secrets.json");
      const configJson = {
        deployment: "escrow",
        f1Workers: true,
        f1LeaseSeconds: LEASE_S,
        f1JobBands: JOB_BANDS,
        rateLimits: { enabled: false },
        exports: { windowMinutes: 1, maxKeysPerFile: 500 },
        secretsFile,
      };
      const start = async (name: string) => {
        const n = await serveProcess(db, configJson, path.join(dir, name + ".config.json"));
        nodes.push(n);
        return n;
      };
      const a = await start("a");
      const b = await start("b");
      const as = (n: ServeProcess) => n as unknown as TestAuthority;

      // Bands: the positives and their contacts through the API, the filler straight into the table.
      for (const [i, band] of [...positives, ...contacts].entries()) await registerBand(as(i % 2 ? a : b), band);
      const file = JSON.parse(fs.readFileSync(secretsFile, "utf8")) as SecretsFile;
      const { escrowSeal } = deriveServerSubkeys(secretsFromFile(file, parseConfig(configJson)).serverKey);
      const now = Math.floor(Date.now() / 1000);
      const admin = new pg.Client({ connectionString: db });
      await admin.connect();
      try {
        const ids = Array.from({ length: FILLER_BANDS }, () => randomBytes(8));
        await admin.query(
          `INSERT INTO bands (band_id, board, registered_at, registered_by, secret_sealed, changed_at)
           SELECT id, 'puckjs', $2, 'test', s, $2 FROM unnest($1::TEXT[], $3::BYTEA[]) AS u(id, s)`,
          [ids.map((x) => x.toString("hex")), now, ids.map((x) => seal(escrowSeal, randomBytes(16), x))],
        );

        const workerA = await workerProcess(db, secretsFile, path.join(dir, "a.config.json"));
        workers.push(workerA);
        const workerB = await workerProcess(db, secretsFile, path.join(dir, "a.config.json"));
        workers.push(workerB);

        // Certificates for the publishes and the log uploads, codes issued on one node and claimed on the other.
        const today = Math.floor(Date.now() / 86400000);
        const jobs: { keys: TestKey[]; body: unknown; acked: boolean }[] = [];
        await Promise.all(
          Array.from({ length: 4 }, async (_, w) => {
            for (let i = w; i < 120; i += 4) {
              const keys = makeKeys(14, today);
              const c = await certify(as(i % 2 ? a : b), keys);
              jobs.push({ keys, body: publishBody(keys, c.certificate, c.hmacKey), acked: false });
            }
          }),
        );
        const logs = positives.map((_, i) => logOf(i, today));
        const uploads = await Promise.all(
          positives.map(async (p, i) => {
            const keys = bandKeys(p, 3, today);
            return { log: logs[i], keys, cert: await certify(as(i % 2 ? a : b), keys, { log: logs[i] }), acked: false };
          }),
        );

        // The burst: 6 publish clients per node, and the log uploads spread over both nodes among them; node a is
        // killed once 40 publishes were acknowledged.
        let next = 0;
        const client = (n: ServeProcess) => async () => {
          while (next < jobs.length) {
            const job = jobs[next++];
            if ((await post(n.url, "/v1/publish", job.body)) === 200) job.acked = true;
            else if (n === a && !a.alive()) return;
          }
        };
        const burst = Promise.all([
          ...Array.from({ length: 6 }, client(a)),
          ...Array.from({ length: 6 }, client(b)),
          ...uploads.map(async (u, i) => {
            await sleep(i * 30);
            const s = await upload(i % 2 ? a : b, u.log, u.cert, u.keys);
            u.acked = s === 201 || s === 200;
          }),
        ]);
        while (jobs.filter((j) => j.acked).length < 40) await sleep(5);
        a.child.kill("SIGKILL");
        expect(await a.exited).toBe("SIGKILL");
        await burst;
        // What node a took but never answered goes to b now: a retry with the same certificate is safe.
        for (const j of jobs.filter((x) => !x.acked))
          if ((await post(b.url, "/v1/publish", j.body)) === 200) j.acked = true;
        for (const u of uploads.filter((x) => !x.acked)) {
          const s = await upload(b, u.log, u.cert, u.keys);
          u.acked = s === 201 || s === 200;
        }
        expect(uploads.filter((u) => !u.acked)).toEqual([]);

        // Worker b is killed while it holds a job: frozen first, and killed only when the database shows it
        // holding one (otherwise thawed and tried again a moment later).
        let held: number | undefined;
        for (let i = 0; i < 2000 && held === undefined; i++) {
          workerB.child.kill("SIGSTOP");
          const r = await admin.query("SELECT id FROM f1_jobs WHERE status = 'running' AND worker = $1", [
            workerB.name,
          ]);
          if (r.rows.length > 0) {
            held = r.rows[0].id as number;
            workerB.child.kill("SIGKILL");
          } else {
            workerB.child.kill("SIGCONT");
            await sleep(15);
          }
        }
        expect(held).toBeDefined();
        expect(await workerB.exited).toBe("SIGKILL");
        const atDeath = (await admin.query("SELECT status, worker FROM f1_jobs WHERE id = $1", [held])).rows[0];
        expect(atDeath).toEqual({ status: "running", worker: workerB.name });

        // Every acknowledged key is stored exactly once; no publish is half there.
        const perJob: number[] = [];
        for (const j of jobs) {
          const r = await admin.query("SELECT COUNT(*)::INT AS n FROM exposures WHERE key_data = ANY($1::BYTEA[])", [
            j.keys.map((k) => k.bytes),
          ]);
          perJob.push(r.rows[0].n as number);
        }
        const total = (await admin.query("SELECT COUNT(*)::INT AS n FROM exposures")).rows[0].n as number;
        jobs.forEach((j, i) => expect(j.acked ? [14] : [0, 14]).toContain(perJob[i]));
        expect(total).toBe(perJob.reduce((s, n) => s + n, 0));
        const acked = jobs.filter((j) => j.acked);
        expect(acked.length).toBeGreaterThanOrEqual(100);

        // Worker a takes the dead worker's job over once its lease ran out, and finishes every log.
        const resolution = async () =>
          (await admin.query("SELECT resolution FROM band_logs ORDER BY id")).rows.map((r) => r.resolution as string);
        for (let i = 0; i < 1200 && !(await resolution()).every((s) => s === "done"); i++) await sleep(100);
        expect(await resolution()).toEqual(positives.map(() => "done"));
        const stopped = await workerA.stop();
        const f1Jobs = (await admin.query("SELECT id, status, attempt, worker FROM f1_jobs ORDER BY id")).rows as {
          id: number;
          status: string;
          attempt: number;
          worker: string;
        }[];
        const perLog = 2 * Math.ceil((positives.length + contacts.length + FILLER_BANDS) / JOB_BANDS);
        expect(f1Jobs).toHaveLength(positives.length * perLog);
        expect(f1Jobs.filter((j) => j.status !== "done")).toEqual([]);
        const takenOver = f1Jobs.find((j) => Number(j.id) === Number(held))!;
        expect(takenOver.worker).toBe(workerA.name);
        expect(Number(takenOver.attempt)).toBeGreaterThanOrEqual(2);
        // Each job completed once: worker a's completions are exactly the jobs recorded as its, the rest are b's.
        expect(stopped.jobs).toBe(f1Jobs.filter((j) => j.worker === workerA.name).length);
        expect(f1Jobs.filter((j) => j.worker !== workerA.name && j.worker !== workerB.name)).toEqual([]);
        const store = await PostgresStore.open(db);
        try {
          const found = decided(await store.listContacts({ limit: 10_000, offset: 0 }));
          expect(found.length).toBeGreaterThanOrEqual(positives.length * 3);
          expect(found).toEqual(await reference(logs, now));
        } finally {
          await store.close();
        }

        // Node a comes back; once the export window has closed both nodes are asked for the index at once: the
        // files are built by one of them, and both list the same ones.
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
      } finally {
        await admin.end();
      }
    }, 240_000);
  },
);

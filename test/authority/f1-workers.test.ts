import { spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseConfig } from "../../host-tools/src/authority/config";
import { deriveServerSubkeys } from "../../host-tools/src/authority/crypto/server-keys";
import { runF1Worker } from "../../host-tools/src/authority/f1/worker";
import { secretsFromFile } from "../../host-tools/src/authority/secrets";
import { openStore } from "../../host-tools/src/authority/store/open";
import { AuthorityStore } from "../../host-tools/src/authority/store/store";
import { describeEachBackend, PG_SKIP_REASON, PG_URL } from "../postgres";
import {
  bandKeys,
  call,
  certify,
  DAY0,
  registerBand,
  startTestAuthority,
  TestAuthority,
  uploadLog,
  positiveLogOf,
} from "./helpers";

/**
 * F1 resolution as jobs: API nodes started with `f1Workers` leave uploaded logs pending; workers plan each
 * into jobs of one day x a range of registered bands and claim the jobs (FOR UPDATE SKIP LOCKED on
 * PostgreSQL, an IMMEDIATE transaction on SQLite). Two workers on one database (either backend) share a log,
 * complete every job once and produce the same F1 worklist as the single-process engine (resolving whole logs
 * in the server) on the same input; `tracelet authority worker` starts, says where it works and stops on
 * SIGTERM.
 */
const CONFIG = { deployment: "escrow", rateLimits: { enabled: false } };

const positives = Array.from({ length: 6 }, () => randomBytes(8));
const escrowBands = Array.from({ length: 8 }, () => randomBytes(8));

function logOf(i: number): Buffer {
  return positiveLogOf(positives[i], escrowBands, i, DAY0);
}

async function loadAuthority(t: TestAuthority): Promise<void> {
  for (const b of [...positives, ...escrowBands]) await registerBand(t, b);
  for (const [i, p] of positives.entries()) {
    const keys = bandKeys(p, 3);
    const log = logOf(i);
    const c = await certify(t, keys, { log });
    const r = await uploadLog(t, log, c.certificate, c.hmacKey, keys);
    expect(r.status).toBe(201);
  }
}

/** The worklist without row ids (they follow insertion order, which differs between runs). */
async function worklist(t: TestAuthority): Promise<unknown[]> {
  const r = await call(t, "GET", "/api/contacts?limit=500", { key: t.adminKey });
  expect(r.status).toBe(200);
  return (r.json.contacts as Record<string, unknown>[])
    .map(({ id: _id, ...rest }) => rest)
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** Jobs of 3 registered bands: each 2-day log (14 escrow bands registered) becomes 2 days x 5 ranges = 10 jobs. */
const JOB_BANDS = 3;

describeEachBackend("F1 jobs by day and band range", (backend) => {
  test("two workers share each log's jobs, complete every job once, with the single-process engine's result", async () => {
    const ref = await startTestAuthority(CONFIG);
    let expected: unknown[];
    try {
      await loadAuthority(ref);
      await ref.app.f1.kick();
      expected = await worklist(ref);
    } finally {
      await ref.close();
    }
    expect(expected.length).toBeGreaterThanOrEqual(positives.length * 3);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-f1-jobs-"));
    const config = { ...CONFIG, f1Workers: true, f1JobBands: JOB_BANDS };
    const t = await startTestAuthority(config, backend === "postgres" ? "postgres" : path.join(dir, "a.db"));
    const stores: AuthorityStore[] = [];
    try {
      await loadAuthority(t);
      await t.app.runPendingWork(); // an API node with f1Workers leaves the logs to the workers
      expect((await t.store.listBandLogs(100, 0)).map((l) => l.resolution)).toEqual(positives.map(() => "pending"));
      expect(await worklist(t)).toEqual([]);

      const cfg = parseConfig(config);
      const escrowSealKey = deriveServerSubkeys(secretsFromFile(t.secretsFile, cfg).serverKey).escrowSeal;
      const stop = new AbortController();
      // Each worker has a connection of its own, as separate processes would.
      const workers = ["w1", "w2"].map(async (name) => {
        const store = await openStore(t.db);
        stores.push(store);
        return runF1Worker({
          store,
          config: cfg,
          escrowSealKey,
          now: () => Math.floor(t.clock.ms / 1000),
          log: () => undefined,
          idleMs: 20,
          stop: stop.signal,
          worker: name,
        });
      });
      for (let i = 0; i < 1000; i++) {
        const logs = await t.store.listBandLogs(100, 0);
        if (logs.every((l) => l.resolution === "done")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      stop.abort();
      const results = await Promise.all(workers);
      const logs = await t.store.listBandLogs(100, 0);
      expect(logs.map((l) => l.resolution)).toEqual(positives.map(() => "done"));
      const jobs = (await Promise.all(logs.map((l) => t.store.f1Jobs(l.id)))).flat();
      expect(jobs).toHaveLength(positives.length * 2 * Math.ceil(14 / JOB_BANDS));
      expect(jobs.filter((j) => j.status !== "done" || j.attempt !== 1)).toEqual([]);
      // Each job completed once: the workers' counts add up to the jobs, each log finished by one worker.
      expect(results.reduce((a, r) => a + r.jobs, 0)).toBe(jobs.length);
      expect(results.reduce((a, r) => a + r.resolved, 0)).toBe(positives.length);
      // Both workers worked on one log.
      const shared = logs.filter((l) => new Set(jobs.filter((j) => j.logId === l.id).map((j) => j.worker)).size === 2);
      expect(shared.length).toBeGreaterThan(0);
      expect(await worklist(t)).toEqual(expected);
      const summary = JSON.parse(logs[0].resolutionSummary!) as Record<string, number>;
      expect(summary).toMatchObject({ days: 2, bandsScanned: 13, jobs: 10, contacts: 6 });
    } finally {
      for (const s of stores) await s.close();
      await t.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a worker keeps to the band range it holds unsealed, and a second worker starts on another range", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-f1-claim-"));
    const config = { ...CONFIG, f1Workers: true, f1JobBands: JOB_BANDS };
    const t = await startTestAuthority(config, backend === "postgres" ? "postgres" : path.join(dir, "a.db"));
    try {
      await loadAuthority(t);
      const now = Math.floor(t.clock.ms / 1000);
      const log = (await t.store.claimPendingLog(now, 60))!;
      const plan = [1, 2].flatMap((day) => [
        { day, bandFrom: 0, bandTo: 10 },
        { day, bandFrom: 10, bandTo: null },
      ]);
      expect(await t.store.planF1Jobs(log.id, log.resolvedAt!, now, plan)).toBe(true);
      const claim = async (worker: string, prefer?: number) => {
        const j = (await t.store.claimF1Job(now, 60, worker, prefer))!;
        return [j.worker, j.bandFrom, j.day];
      };
      // The oldest first; then not the oldest (range 0, day 2) but the range nobody runs.
      expect(await claim("w1")).toEqual(["w1", 0, 1]);
      expect(await claim("w2")).toEqual(["w2", 10, 1]);
      // Each stays on its range: w2 takes range 10's day 2 although range 0's day 2 is older.
      expect(await claim("w2", 10)).toEqual(["w2", 10, 2]);
      expect(await claim("w1", 0)).toEqual(["w1", 0, 2]);
      expect(await t.store.claimF1Job(now, 60, "w1", 0)).toBeUndefined();
    } finally {
      await t.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

(PG_URL ? describe : describe.skip)(`F1 workers on PostgreSQL${PG_URL ? "" : " " + PG_SKIP_REASON}`, () => {
  test("tracelet authority worker starts on a postgres:// URL, says where it works and stops on SIGTERM", async () => {
    const t = await startTestAuthority({ ...CONFIG, f1Workers: true }, "postgres");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-f1-worker-"));
    try {
      const secrets = path.join(dir, "secrets.json");
      fs.writeFileSync(secrets, JSON.stringify(t.secretsFile), { mode: 0o600 });
      const config = path.join(dir, "config.json");
      fs.writeFileSync(config, JSON.stringify({ ...CONFIG, f1Workers: true }));
      const cli = path.join(__dirname, "..", "..", "host-tools", "bin", "tracelet.js");
      const args = ["authority", "worker", "--db", t.db, "--secrets", secrets, "--config", config, "--json"];
      const child = spawn(process.execPath, [cli, ...args, "--poll", "0.1"], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (c) => (out += c));
      child.stderr.on("data", (c) => (err += c));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      for (let i = 0; i < 300 && !out.includes("}"); i++) await new Promise((r) => setTimeout(r, 50));
      const first = JSON.parse(out.slice(0, out.indexOf("}") + 1)) as { worker: number; db: string };
      expect(first.worker).toBe(child.pid);
      expect(first.db).toBe(t.db);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(err).toBe("");
      expect(out).toContain('"resolved": 0');
      expect(out).toContain('"jobs": 0');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await t.close();
    }
  });
});

import { ChildProcess, spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import pg from "pg";
import { pureCrypto } from "../../../../firmware/src/protocol/crypto";
import { signedLogExport } from "../../../../firmware/src/protocol/log-mac";
import { computeTekmac } from "../../authority/crypto/tekmac";
import { deriveServerSubkeys } from "../../authority/crypto/server-keys";
import { seal } from "../../authority/crypto/secret-box";
import { generateSecretsFile } from "../../authority/secrets";
import { PostgresStore } from "../../authority/store/postgres";
import { cpuBetween, processCpu } from "../measure";
import { BenchFigure, BenchSection } from "../types";
import { positiveLogSegments } from "./authority-f1";
import { LatencyStats, listening, post, spawnServe, stats } from "./authority-load";

/**
 * The authority on PostgreSQL (issue 20), on the server TRACELET_PG_URL names (skipped without it), each run on
 * a fresh database of its own (dropped afterwards):
 * 1. publish flow: each job issues a verification code (admin), claims it (kiosk), gets a certificate and
 *    publishes 14 keys with it: 4 requests, all timed. The same jobs go to one `tracelet authority serve`, then
 *    to two serve processes on one database (clients split over both). Target: two nodes >= 1.6x one.
 * 2. F1 workers: one positive band's 14-day log queued against registered escrow bands and split into jobs of
 *    one day x `f1JobBands` bands (f1/jobs.ts), resolved by one `tracelet authority worker`, then (same input,
 *    fresh database) by two sharing that one log (100,000 bands). Target: two workers >= 1.7x one.
 * Each run also reports the cores busy by process (authority, PostgreSQL, this load generator; /proc): on a
 * machine whose cores one node already keeps busy, a second node cannot add throughput.
 * 3. F1 scale: one positive band's 14-day log against 10,000 and 100,000 escrow bands (quick: 2,000 and
 *    10,000), with two workers running; the time per band extrapolated linearly to 1,000,000 bands.
 * The load generator runs in this process, on the same machine as the servers and PostgreSQL.
 */
export interface PostgresBenchOptions {
  /** Publish flows per run (each 4 requests). */
  jobs?: number;
  clients?: number;
  /** Positive logs for the worker run (1: one log shared by the workers), and the escrow bands. */
  f1Logs?: number;
  f1Bands?: number;
  /** Registered bands per F1 job (config f1JobBands) in the worker run. */
  f1JobBands?: number;
  f1Days?: number;
  f1Sightings?: number;
  /** Escrow band counts for the one-log scale runs. */
  scaleBands?: number[];
  scaleSightings?: number;
}

export interface PublishRun {
  nodes: number;
  clients: number;
  jobs: number;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  flowsPerSecond: number;
  /** Latency of one whole flow (4 requests) and of the publish request alone. */
  flow: LatencyStats;
  publish: LatencyStats;
  failures: number;
  /** Flows sent untimed before the timed ones (their failures count in `failures`). */
  warmup: number;
  /** Cores busy during the run, by process (CPU seconds / wall seconds; Linux /proc). */
  cores?: CoresBusy;
}

/** Cores busy during a run: the serve or worker processes, PostgreSQL's processes, this (load) process. */
export interface CoresBusy {
  authority: number;
  postgres: number;
  loadGenerator: number;
  total: number;
}

/** PostgreSQL's postmaster (`.../bin/postgres`) and its backends (`postgres: user db ...`). */
function isPostgres(cmdline: string): boolean {
  return /(^|\/)postgres(:|$)/.test(cmdline.split(" ")[0]);
}

/** Starts CPU accounting for `pids` (the authority processes), PostgreSQL and this process; call the result to stop. */
function coresBusy(pids: () => number[]): () => CoresBusy {
  const sample = () => ({
    authority: processCpu((_, pid) => pids().includes(pid)),
    postgres: processCpu(isPostgres),
    self: process.cpuUsage(),
    at: process.hrtime.bigint(),
  });
  const a = sample();
  return () => {
    const b = sample();
    const wall = Number(b.at - a.at) / 1e9;
    const selfCpu = process.cpuUsage(a.self);
    const busy = {
      authority: round2(cpuBetween(a.authority, b.authority) / wall),
      postgres: round2(cpuBetween(a.postgres, b.postgres) / wall),
      loadGenerator: round2((selfCpu.user + selfCpu.system) / 1e6 / wall),
    };
    return { ...busy, total: round2(busy.authority + busy.postgres + busy.loadGenerator) };
  };
}

export interface WorkerRun {
  workers: number;
  logs: number;
  days: number;
  bands: number;
  seconds: number;
  /** Logs each worker finished, and F1 jobs each completed (its `--json` stop line). */
  resolvedPerWorker: number[];
  jobsPerWorker: number[];
  /** Jobs the logs were split into, and the bands per job. */
  jobs: number;
  jobBands: number;
  done: number;
  failed: number;
  cores?: CoresBusy;
}

export interface ScaleRun {
  bands: number;
  days: number;
  sightings: number;
  setupSeconds: number;
  seconds: number;
  microsPerBand: number;
  contactsExpected: number;
  contactsFound: number;
}

export interface PostgresBenchResult {
  skipped?: string;
  server?: { version: string; fsync: string; synchronousCommit: string };
  cores: number;
  loadAverageBefore: number[];
  loadAverageAfter: number[];
  publish?: { one: PublishRun; two: PublishRun; ratio: number };
  workers?: { one: WorkerRun; two: WorkerRun; ratio: number };
  scale?: {
    runs: ScaleRun[];
    /** Proportional: the largest run's seconds x 1,000,000 / its bands (fixed costs scaled too: an upper bound). */
    extrapolatedSecondsFor1M: number;
    from: number;
    /** The largest run plus the time per extra band between the two largest runs (absent with one run). */
    byIncrementSecondsFor1M?: number;
  };
  pass: boolean;
}

const ROOT = path.resolve(__dirname, "..", "..", "..", "..");
const CLI = path.join(ROOT, "host-tools", "bin", "tracelet.js");

export async function runPostgresBench(o: PostgresBenchOptions = {}): Promise<PostgresBenchResult> {
  const cores = os.cpus().length;
  const url = process.env.TRACELET_PG_URL;
  if (!url)
    return {
      skipped: "TRACELET_PG_URL is not set (host-tools/scripts/with-postgres.sh starts a throw-away server)",
      cores,
      loadAverageBefore: os.loadavg(),
      loadAverageAfter: os.loadavg(),
      pass: false,
    };
  const loadAverageBefore = os.loadavg().map(round2);
  const server = await admin(url, async (c) => ({
    version: ((await c.query("SHOW server_version")).rows[0] as { server_version: string }).server_version,
    fsync: ((await c.query("SHOW fsync")).rows[0] as { fsync: string }).fsync,
    synchronousCommit: ((await c.query("SHOW synchronous_commit")).rows[0] as { synchronous_commit: string })
      .synchronous_commit,
  }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-pg-bench-"));
  try {
    const jobs = o.jobs ?? 1500;
    const clients = o.clients ?? 32;
    const one = await publishRun(url, dir, 1, jobs, clients);
    const two = await publishRun(url, dir, 2, jobs, clients);
    const publishRatio = round2(two.requestsPerSecond / one.requestsPerSecond);

    // 100,000 bands (10 ranges of f1JobBands): one worker runs ~15 s, so the one-off parts of a log (queueing,
    // planning, the last job's aggregation) weigh as they would against a national registry, not a toy one.
    const f1 = makeF1Input(o.f1Bands ?? 100_000, o.f1Logs ?? 1, o.f1Days ?? 14, o.f1Sightings ?? 5000);
    const jobBands = o.f1JobBands ?? 10_000;
    const w1 = await workerRun(url, dir, f1, 1, jobBands);
    const w2 = await workerRun(url, dir, f1, 2, jobBands);
    const workerRatio = round2(w1.seconds / w2.seconds);

    const runs: ScaleRun[] = [];
    for (const bands of o.scaleBands ?? [10_000, 100_000])
      runs.push(await scaleRun(url, dir, bands, o.scaleSightings ?? 5000));
    const largest = runs[runs.length - 1];
    const extrapolated = round2((largest.seconds * 1_000_000) / largest.bands);
    // With two sizes, the time per extra band (fixed costs of a log left out) gives a second, lower estimate.
    const smaller = runs.length > 1 ? runs[runs.length - 2] : undefined;
    const slope = smaller ? (largest.seconds - smaller.seconds) / (largest.bands - smaller.bands) : undefined;
    const byIncrement = slope !== undefined ? round2(largest.seconds + slope * (1_000_000 - largest.bands)) : undefined;

    const ok = one.failures === 0 && two.failures === 0 && w1.failed === 0 && w2.failed === 0;
    const contactsOk = runs.every((r) => r.contactsFound === r.contactsExpected);
    return {
      server,
      cores,
      loadAverageBefore,
      loadAverageAfter: os.loadavg().map(round2),
      publish: { one, two, ratio: publishRatio },
      workers: { one: w1, two: w2, ratio: workerRatio },
      scale: {
        runs,
        extrapolatedSecondsFor1M: extrapolated,
        from: largest.bands,
        byIncrementSecondsFor1M: byIncrement,
      },
      pass: ok && contactsOk && publishRatio >= 1.6 && workerRatio >= 1.7 && extrapolated <= 300,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// --- 1. publish flow --------------------------------------------------------------------------------------

async function publishRun(
  url: string,
  dir: string,
  nodes: number,
  nJobs: number,
  clients: number,
): Promise<PublishRun> {
  const db = await freshDatabase(url);
  const children: ChildProcess[] = [];
  try {
    const config = path.join(dir, `publish-${nodes}.config.json`);
    const secretsFile = path.join(dir, `publish-${nodes}.secrets.json`);
    fs.writeFileSync(config, JSON.stringify({ deployment: "private", rateLimits: { enabled: false }, secretsFile }));
    const urls: string[] = [];
    for (let i = 0; i < nodes; i++) {
      // One at a time: the first creates the shared secrets file (and migrates), the others read it.
      const child = spawnServe(db, config, "ignore");
      children.push(child);
      urls.push((await listening(child)).url);
    }
    const secrets = JSON.parse(fs.readFileSync(secretsFile, "utf8")) as { apiKeys: { role: string; key: string }[] };
    const key = (role: string) => secrets.apiKeys.find((k) => k.role === role)!.key;
    const admin = key("admin");
    const kiosk = key("kiosk");
    const today = Math.floor(Date.now() / 86400000);
    // A tenth more flows first, untimed: neither run is timed while its processes still compile their code or
    // open their database connections.
    const warm = Math.ceil(nJobs / 10);
    const jobs = Array.from({ length: nJobs + warm }, () => ({
      keys: Array.from({ length: 14 }, (_, d) => ({
        key: randomBytes(16).toString("base64"),
        rollingStartNumber: (today - 1 - d) * 144,
        rollingPeriod: 144,
        transmissionRisk: 0,
      })),
      hmacKey: randomBytes(32),
    }));
    const flow: number[] = [];
    const publish: number[] = [];
    let requests = 0;
    let failures = 0;
    let next = 0;
    const drive = (until: number) =>
      Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          const base = urls[c % urls.length];
          while (next < until) {
            const job = jobs[next++];
            const start = performance.now();
            try {
              requests++;
              const issue = await post(base, "/api/issue", { testType: "confirmed" }, admin);
              requests++;
              const verify = await post(base, "/api/verify", { code: issue.code }, kiosk);
              requests++;
              const cert = await post(
                base,
                "/api/certificate",
                {
                  token: verify.token,
                  ekeyhmac: computeTekmac(
                    job.keys.map((k) => ({ ...k, bytes: Buffer.from(k.key, "base64") })),
                    job.hmacKey,
                  ).toString("base64"),
                },
                kiosk,
              );
              const p0 = performance.now();
              requests++;
              const r = await fetch(base + "/v1/publish", {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({
                  temporaryExposureKeys: job.keys,
                  healthAuthorityID: "tracelet",
                  verificationPayload: cert.certificate,
                  hmacKey: job.hmacKey.toString("base64"),
                  padding: randomBytes(256).toString("base64"),
                }),
              });
              await r.arrayBuffer();
              if (r.status !== 200) throw new Error(`/v1/publish: ${r.status}`);
              const end = performance.now();
              publish.push(end - p0);
              flow.push(end - start);
            } catch {
              failures++;
            }
          }
        }),
      );
    await drive(warm);
    // Failures of the warm-up still count: every flow must succeed.
    flow.length = publish.length = requests = 0;
    const t0 = process.hrtime.bigint();
    const cpu = coresBusy(() => children.map((c) => c.pid!));
    await drive(jobs.length);
    const cores = cpu();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      nodes,
      clients,
      jobs: nJobs,
      requests,
      seconds: round(seconds),
      requestsPerSecond: Math.round(requests / seconds),
      flowsPerSecond: Math.round(flow.length / seconds),
      flow: stats(flow),
      publish: stats(publish),
      failures,
      warmup: warm,
      cores,
    };
  } finally {
    for (const c of children) await stopChild(c);
    await dropDatabase(url, db);
  }
}

// --- 2. and 3. F1 resolution by `tracelet authority worker` processes -------------------------------------

interface F1Input {
  days: number;
  secretsJson: string;
  escrowSeal: Buffer;
  bandIds: string[];
  bandSecrets: Buffer[];
  logs: { bandId: string; body: Buffer; segments: number; records: number }[];
  /** "<escrow band>/<day>" pairs the logs contain (ground truth). */
  expected: Set<string>;
}

/** Escrow bands and positive logs: every 25th sighting is a registered band, the rest unregistered ones. */
function makeF1Input(nBands: number, nLogs: number, nDays: number, nSightings: number): F1Input {
  const secretsFile = generateSecretsFile();
  const { escrowSeal } = deriveServerSubkeys(Buffer.from(secretsFile.serverKey, "base64"));
  const bandIds: string[] = [];
  const bandSecrets: Buffer[] = [];
  for (let i = 0; i < nBands; i++) {
    bandIds.push(randomBytes(8).toString("hex"));
    bandSecrets.push(randomBytes(16));
  }
  const today = Math.floor(Date.now() / 86400000);
  const expected = new Set<string>();
  const perDay = Math.ceil(nSightings / nDays);
  const logs = [];
  let contact = 0;
  for (let l = 0; l < nLogs; l++) {
    const { segments, records } = positiveLogSegments(today, nDays, nSightings, perDay, expected, () => {
      const k = contact++ % Math.min(nBands, 200);
      return { id: bandIds[k], secret: bandSecrets[k] };
    });
    const bandId = randomBytes(8);
    const body = Buffer.from(signedLogExport(pureCrypto.sha256, randomBytes(16), bandId, segments));
    logs.push({ bandId: bandId.toString("hex"), body, segments: segments.length, records });
  }
  return { days: nDays, secretsJson: JSON.stringify(secretsFile), escrowSeal, bandIds, bandSecrets, logs, expected };
}

/** A fresh database with the escrow bands registered (bulk insert, not timed); resolves with its URL. */
async function f1Database(url: string, input: F1Input): Promise<string> {
  const db = await freshDatabase(url);
  const store = await PostgresStore.open(db); // migrates
  await store.close();
  const now = Math.floor(Date.now() / 1000);
  await admin(db, async (c) => {
    for (let i = 0; i < input.bandIds.length; i += 5000) {
      const ids = input.bandIds.slice(i, i + 5000);
      const sealed = ids.map((id, j) => seal(input.escrowSeal, input.bandSecrets[i + j], Buffer.from(id, "hex")));
      await c.query(
        `INSERT INTO bands (band_id, board, registered_at, registered_by, secret_sealed, changed_at)
         SELECT id, 'puckjs', $2, 'bench', s, $2 FROM unnest($1::text[], $3::bytea[]) AS u(id, s)`,
        [ids, now, sealed],
      );
    }
  });
  return db;
}

/**
 * Starts `workers` worker processes on the database, waits until each says it runs, queues the logs and times
 * until none is pending or running; then stops the workers (SIGTERM) and reads their counts.
 */
async function resolveWithWorkers(
  dir: string,
  db: string,
  input: F1Input,
  workers: number,
  jobBands?: number,
): Promise<{
  seconds: number;
  resolvedPerWorker: number[];
  jobsPerWorker: number[];
  jobs: number;
  done: number;
  failed: number;
  cores: CoresBusy;
}> {
  const secrets = path.join(dir, "f1.secrets.json");
  fs.writeFileSync(secrets, input.secretsJson, { mode: 0o600 });
  const config = path.join(dir, "f1.config.json");
  fs.writeFileSync(
    config,
    JSON.stringify({ deployment: "escrow", f1Workers: true, f1JobBands: jobBands, rateLimits: { enabled: false } }),
  );
  const children: { child: ChildProcess; out: () => string }[] = [];
  const store = await PostgresStore.open(db);
  try {
    for (let i = 0; i < workers; i++) {
      const args = [CLI, "authority", "worker", "--db", db, "--secrets", secrets, "--config", config];
      const child = spawn(process.execPath, [...args, "--json", "--poll", "0.05"], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "ignore"],
      });
      let out = "";
      child.stdout!.on("data", (c) => (out += c));
      children.push({ child, out: () => out });
    }
    for (const w of children) {
      const until = Date.now() + 60000;
      while (!w.out().includes("}")) {
        if (Date.now() > until || w.child.exitCode !== null) throw new Error("authority worker did not start");
        await sleep(20);
      }
    }
    const now = Math.floor(Date.now() / 1000);
    const t0 = process.hrtime.bigint();
    const cpu = coresBusy(() => children.map((w) => w.child.pid!));
    for (const [i, l] of input.logs.entries()) {
      const r = await store.storeBandLog({
        jti: `bench-${i}`,
        sha256: randomBytes(32),
        bandId: l.bandId,
        body: l.body,
        segments: l.segments,
        records: l.records,
        uploadedAt: now,
        reportType: "confirmed",
        symptomOnsetInterval: null,
        resolution: "pending",
      });
      if (r.status !== "stored") throw new Error("bench log not stored");
    }
    const count = async () =>
      (
        await admin(db, (c) =>
          c.query<{ resolution: string; n: string }>(
            "SELECT resolution, COUNT(*) AS n FROM band_logs GROUP BY resolution",
          ),
        )
      ).rows.reduce<Record<string, number>>((a, r) => ({ ...a, [r.resolution]: Number(r.n) }), {});
    let counts = await count();
    while ((counts.done ?? 0) + (counts.failed ?? 0) < input.logs.length) {
      await sleep(25);
      counts = await count();
    }
    const cores = cpu();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const resolvedPerWorker: number[] = [];
    const jobsPerWorker: number[] = [];
    for (const w of children) {
      await stopChild(w.child);
      const m = /"resolved":\s*(\d+)/.exec(w.out());
      resolvedPerWorker.push(m ? Number(m[1]) : -1);
      const j = /"jobs":\s*(\d+)/.exec(w.out());
      jobsPerWorker.push(j ? Number(j[1]) : -1);
    }
    const jobs = Number(
      (await admin(db, (c) => c.query<{ n: string }>("SELECT COUNT(*) AS n FROM f1_jobs"))).rows[0].n,
    );
    return {
      seconds: round(seconds),
      resolvedPerWorker,
      jobsPerWorker,
      jobs,
      done: counts.done ?? 0,
      failed: counts.failed ?? 0,
      cores,
    };
  } finally {
    for (const w of children) await stopChild(w.child);
    await store.close();
  }
}

async function workerRun(
  url: string,
  dir: string,
  input: F1Input,
  workers: number,
  jobBands: number,
): Promise<WorkerRun> {
  const db = await f1Database(url, input);
  try {
    const r = await resolveWithWorkers(dir, db, input, workers, jobBands);
    return { workers, logs: input.logs.length, days: input.days, bands: input.bandIds.length, jobBands, ...r };
  } finally {
    await dropDatabase(url, db);
  }
}

async function scaleRun(url: string, dir: string, bands: number, sightings: number): Promise<ScaleRun> {
  const days = 14;
  const input = makeF1Input(bands, 1, days, sightings);
  const s0 = process.hrtime.bigint();
  const db = await f1Database(url, input);
  const setupSeconds = Number(process.hrtime.bigint() - s0) / 1e9;
  try {
    const r = await resolveWithWorkers(dir, db, input, 2);
    const rows = await admin(db, (c) =>
      c.query<{ band_id: string; day: string }>("SELECT DISTINCT f1_band_id AS band_id, day FROM contacts"),
    );
    const found = new Set(rows.rows.map((x) => x.band_id + "/" + x.day));
    let contactsFound = 0;
    for (const e of input.expected) if (found.has(e)) contactsFound++;
    return {
      bands,
      days,
      sightings: input.logs[0].records,
      setupSeconds: round(setupSeconds),
      seconds: r.seconds,
      microsPerBand: round((r.seconds * 1e6) / bands),
      contactsExpected: input.expected.size,
      contactsFound,
    };
  } finally {
    await dropDatabase(url, db);
  }
}

// --- helpers ----------------------------------------------------------------------------------------------

async function admin<T>(url: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

async function freshDatabase(url: string): Promise<string> {
  const name = `tracelet_bench_${process.pid}_${randomBytes(4).toString("hex")}`;
  await admin(url, (c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(url);
  u.pathname = "/" + name;
  return u.toString();
}

async function dropDatabase(url: string, db: string): Promise<void> {
  const name = new URL(db).pathname.slice(1);
  if (!/^tracelet_bench_\d+_[0-9a-f]+$/.test(name)) throw new Error(`not a bench database: ${name}`);
  await admin(url, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30000);
  await exited;
  clearTimeout(timer);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The bench registry's view of this section. */
export const authorityPostgresSection: BenchSection = {
  name: "authority-postgres",
  description: "authority on PostgreSQL: publish flow on one vs two serve nodes, F1 on one vs two workers, F1 scale",
  run: (opts) =>
    runPostgresBench(
      opts.quick
        ? {
            jobs: 100,
            clients: 8,
            f1Bands: 2000,
            f1JobBands: 500,
            f1Sightings: 500,
            scaleBands: [1000, 4000],
          }
        : {},
    ),
  figures: (result) => {
    const r = result as PostgresBenchResult;
    if (r.skipped)
      return [{ figure: "PostgreSQL server", target: "set", measured: "none", pass: false, method: r.skipped }];
    const where =
      `this machine (${r.cores} cores, load average ${r.loadAverageBefore.join("/")} before), ` +
      `PostgreSQL ${r.server!.version} fsync=${r.server!.fsync} synchronous_commit=${r.server!.synchronousCommit}`;
    const p = r.publish!;
    const w = r.workers!;
    const s = r.scale!;
    const busy = (c: CoresBusy | undefined, who: string) =>
      c
        ? `${c.total} of ${r.cores} (${who} ${c.authority}, PostgreSQL ${c.postgres}, this load generator ${c.loadGenerator})`
        : "unknown (no /proc)";
    const busyMethod =
      "CPU seconds / wall seconds over the timed run, from /proc/<pid>/stat: the authority processes, every " +
      "PostgreSQL process, and the bench process that sends the requests or queues the logs";
    const flow = (n: PublishRun) =>
      `${n.jobs} flows (issue, verify, certificate, publish) after ${n.warmup} untimed, ${n.clients} loopback clients split over ${n.nodes} serve process(es), one fresh database; ${where}`;
    const rows: BenchFigure[] = [];
    for (const n of [p.one, p.two]) {
      const m = flow(n);
      rows.push(
        {
          figure: `${n.nodes} node(s): requests per second`,
          target: "-",
          measured: String(n.requestsPerSecond),
          pass: null,
          method: m,
        },
        {
          figure: `${n.nodes} node(s): publish p50/p99 (ms)`,
          target: "-",
          measured: `${n.publish.p50Ms}/${n.publish.p99Ms}`,
          pass: null,
          method: m,
        },
        {
          figure: `${n.nodes} node(s): whole flow p50/p99 (ms)`,
          target: "-",
          measured: `${n.flow.p50Ms}/${n.flow.p99Ms}`,
          pass: null,
          method: m,
        },
        {
          figure: `${n.nodes} node(s): cores busy`,
          target: "-",
          measured: busy(n.cores, "serve"),
          pass: null,
          method: busyMethod,
        },
        {
          figure: `${n.nodes} node(s): failed flows`,
          target: "0",
          measured: String(n.failures),
          pass: n.failures === 0,
          method: m,
        },
      );
    }
    rows.push({
      figure: "publish throughput, two nodes / one",
      target: ">= 1.6",
      measured: String(p.ratio),
      pass: p.ratio >= 1.6,
      method: `requests per second, ${p.two.requestsPerSecond} / ${p.one.requestsPerSecond}; ${where}`,
    });
    const wm =
      `${w.one.logs} positive ${w.one.days}-day log(s) vs ${w.one.bands} escrow bands, split into ${w.one.jobs} ` +
      `F1 jobs (one day x ${w.one.jobBands} bands), timed from queueing until resolved; ${where}`;
    rows.push(
      { figure: "F1: 1 worker, seconds", target: "-", measured: String(w.one.seconds), pass: null, method: wm },
      {
        figure: "F1: 2 workers, seconds",
        target: "-",
        measured: `${w.two.seconds} (jobs per worker ${w.two.jobsPerWorker.join("+")})`,
        pass: null,
        method: wm,
      },
      {
        figure: "F1: 1 worker, cores busy",
        target: "-",
        measured: busy(w.one.cores, "worker"),
        pass: null,
        method: busyMethod,
      },
      {
        figure: "F1: 2 workers, cores busy",
        target: "-",
        measured: busy(w.two.cores, "workers"),
        pass: null,
        method: busyMethod,
      },
      {
        figure: "F1 speed-up, two workers / one",
        target: ">= 1.7",
        measured: String(w.ratio),
        pass: w.ratio >= 1.7,
        method: wm,
      },
    );
    for (const x of s.runs)
      rows.push({
        figure: `F1: one 14-day log vs ${x.bands} bands, seconds`,
        target: "-",
        measured: `${x.seconds} (${x.contactsFound}/${x.contactsExpected} contacts)`,
        pass: x.contactsFound === x.contactsExpected,
        method: `${x.sightings} sightings, two workers running (one log is resolved by one of them); ${where}`,
      });
    const measured1M = s.from === 1_000_000;
    rows.push({
      figure: `F1: one log vs 1,000,000 bands, seconds (${measured1M ? "measured" : "extrapolated"})`,
      target: "<= 300",
      measured: String(s.extrapolatedSecondsFor1M),
      pass: s.extrapolatedSecondsFor1M <= 300,
      method: measured1M
        ? `the 1,000,000-band run above`
        : `linear extrapolation, proportional to bands, from the ${s.from}-band run (not measured at 1,000,000)`,
    });
    if (s.byIncrementSecondsFor1M !== undefined)
      rows.push({
        figure: "F1: one log vs 1,000,000 bands, seconds (extrapolated per extra band)",
        target: "-",
        measured: String(s.byIncrementSecondsFor1M),
        pass: null,
        method: `linear extrapolation from the time per extra band between the two largest runs (${s.runs
          .slice(-2)
          .map((x) => x.bands)
          .join(" and ")} bands), not measured at 1,000,000`,
      });
    return rows;
  },
};

if (require.main === module) {
  // node -r esbuild-register host-tools/src/bench/sections/authority-postgres.ts [--scale-bands 10000,100000]
  const i = process.argv.indexOf("--scale-bands");
  const scaleBands = i > 0 ? process.argv[i + 1].split(",").map(Number) : undefined;
  runPostgresBench({ scaleBands }).then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + "\n"),
    (e) => {
      process.stderr.write(String(e) + "\n");
      process.exitCode = 1;
    },
  );
}

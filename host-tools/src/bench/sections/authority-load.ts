import { ChildProcess, spawn } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Database from "better-sqlite3";
import { pureCrypto } from "../../../../firmware/src/protocol/crypto";
import { signedLogExport } from "../../../../firmware/src/protocol/log-mac";
import { EncounterRecord, KIND_EN, RECORD_ID_BYTES } from "../../../../firmware/src/protocol/record";
import { computeLogmac, computeTekmac } from "../../authority/crypto/tekmac";
import { BenchSection } from "../types";

/**
 * Load benchmark (issue 5): N concurrent clients on loopback publish diagnosis keys and upload band logs to a
 * real `tracelet authority serve` process (its own process, file database in WAL mode). Reports requests/s
 * and latency percentiles per endpoint, then opens the database and checks that every accepted request is in
 * it exactly once: each accepted publish's 14 keys, each accepted log (some logs are deliberately sent twice,
 * as a kiosk retrying after a lost answer would; the retry must not store a second copy).
 * Certificates are obtained before the timed phase (code -> token -> certificate over HTTP, not timed).
 */
export interface LoadBenchOptions {
  clients?: number;
  jobs?: number;
  /** Share of band logs sent a second time. */
  retryShare?: number;
  recordsPerLog?: number;
}

export interface LatencyStats {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadBenchResult {
  clients: number;
  jobs: number;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  publish: LatencyStats;
  bandLog: LatencyStats;
  bandLogRetry: LatencyStats;
  failures: number;
  acceptedPublishes: number;
  keysExpected: number;
  keysInDbOnce: number;
  acceptedLogs: number;
  logsInDbOnce: number;
  totalLogRowsInDb: number;
  totalExposureRowsInDb: number;
  pass: boolean;
}

const ROOT = path.resolve(__dirname, "..", "..", "..", "..");

interface Job {
  keys: { key: string; rollingStartNumber: number; rollingPeriod: number; transmissionRisk: number; bytes: Buffer }[];
  log: Buffer;
  bandId: string;
  sha: string;
  hmacKey: Buffer;
  certificate?: string;
  retry: boolean;
}

export async function runLoadBench(o: LoadBenchOptions = {}): Promise<LoadBenchResult> {
  const clients = o.clients ?? 32;
  const nJobs = o.jobs ?? 2000;
  const retryShare = o.retryShare ?? 0.05;
  const recordsPerLog = o.recordsPerLog ?? 200;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-load-bench-"));
  const db = path.join(dir, "authority.db");
  const config = path.join(dir, "config.json");
  fs.writeFileSync(config, JSON.stringify({ deployment: "private", rateLimits: { enabled: false } }));
  const child = spawnServe(db, config, "ignore");
  try {
    const { url, secretsFile } = await listening(child);
    const secrets = JSON.parse(fs.readFileSync(secretsFile, "utf8")) as { apiKeys: { role: string; key: string }[] };
    const admin = secrets.apiKeys.find((k) => k.role === "admin")!.key;
    const kiosk = secrets.apiKeys.find((k) => k.role === "kiosk")!.key;
    const flasher = secrets.apiKeys.find((k) => k.role === "flasher")!.key;

    const today = Math.floor(Date.now() / 86400000);
    const jobs: Job[] = [];
    for (let i = 0; i < nJobs; i++) {
      const keys = Array.from({ length: 14 }, (_, d) => {
        const bytes = randomBytes(16);
        return {
          key: bytes.toString("base64"),
          rollingStartNumber: (today - 1 - d) * 144,
          rollingPeriod: 144,
          transmissionRisk: 0,
          bytes,
        };
      });
      const bandId = randomBytes(8);
      const log = makeLog(today, recordsPerLog, bandId);
      jobs.push({
        keys,
        log,
        bandId: bandId.toString("hex"),
        sha: createHash("sha256").update(log).digest("hex"),
        hmacKey: randomBytes(32),
        retry: Math.random() < retryShare,
      });
    }
    await pool(jobs, 16, async (job) => {
      // The authority takes logs of registered bands only (private deployments: no secret, MACs unchecked).
      await post(
        url,
        "/api/bands",
        { bandId: job.bandId, board: "puckjs", syncKey: randomBytes(16).toString("hex") },
        flasher,
      );
      const issue = await post(url, "/api/issue", { testType: "confirmed" }, admin);
      const verify = await post(url, "/api/verify", { code: issue.code }, kiosk);
      const cert = await post(
        url,
        "/api/certificate",
        {
          token: verify.token,
          ekeyhmac: computeTekmac(job.keys, job.hmacKey).toString("base64"),
          logmac: computeLogmac(job.log, job.hmacKey).toString("base64"),
        },
        kiosk,
      );
      job.certificate = cert.certificate as string;
    });

    const lat = { publish: [] as number[], bandLog: [] as number[], bandLogRetry: [] as number[] };
    const accepted = { publish: [] as Job[], logs: [] as Job[] };
    let failures = 0;
    const t0 = process.hrtime.bigint();
    await pool(jobs, clients, async (job) => {
      let t = performance.now();
      const pub = await fetch(url + "/v1/publish", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          temporaryExposureKeys: job.keys.map(({ bytes: _b, ...k }) => k),
          healthAuthorityID: "tracelet",
          verificationPayload: job.certificate,
          hmacKey: job.hmacKey.toString("base64"),
          padding: randomBytes(256).toString("base64"),
        }),
      });
      await pub.arrayBuffer();
      lat.publish.push(performance.now() - t);
      if (pub.status === 200) accepted.publish.push(job);
      else failures++;
      const upload = async (into: number[]) => {
        t = performance.now();
        const r = await fetch(url + "/v1/band-logs", {
          method: "POST",
          headers: {
            "content-type": "application/octet-stream",
            authorization: "Bearer " + job.certificate,
            "x-tracelet-hmac-key": job.hmacKey.toString("base64"),
          },
          body: job.log,
        });
        await r.arrayBuffer();
        into.push(performance.now() - t);
        return r.status;
      };
      const s = await upload(lat.bandLog);
      if (s === 201) accepted.logs.push(job);
      else failures++;
      if (job.retry && (await upload(lat.bandLogRetry)) !== 200) failures++;
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const requests = lat.publish.length + lat.bandLog.length + lat.bandLogRetry.length;

    // Every accepted request is in the database, once.
    const raw = new Database(db, { readonly: true });
    const keyCount = raw.prepare("SELECT COUNT(*) AS n FROM exposures WHERE key_data = ?");
    const logCount = raw.prepare("SELECT COUNT(*) AS n FROM band_logs WHERE sha256 = ?");
    let keysInDbOnce = 0;
    for (const j of accepted.publish)
      for (const k of j.keys) if ((keyCount.get(k.bytes) as { n: number }).n === 1) keysInDbOnce++;
    let logsInDbOnce = 0;
    for (const j of accepted.logs)
      if ((logCount.get(Buffer.from(j.sha, "hex")) as { n: number }).n === 1) logsInDbOnce++;
    const totalLogRowsInDb = (raw.prepare("SELECT COUNT(*) AS n FROM band_logs").get() as { n: number }).n;
    const totalExposureRowsInDb = (raw.prepare("SELECT COUNT(*) AS n FROM exposures").get() as { n: number }).n;
    raw.close();
    const keysExpected = accepted.publish.length * 14;
    return {
      clients,
      jobs: nJobs,
      requests,
      seconds: round(seconds),
      requestsPerSecond: Math.round(requests / seconds),
      publish: stats(lat.publish),
      bandLog: stats(lat.bandLog),
      bandLogRetry: stats(lat.bandLogRetry),
      failures,
      acceptedPublishes: accepted.publish.length,
      keysExpected,
      keysInDbOnce,
      acceptedLogs: accepted.logs.length,
      logsInDbOnce,
      totalLogRowsInDb,
      totalExposureRowsInDb,
      pass:
        failures === 0 &&
        keysInDbOnce === keysExpected &&
        totalExposureRowsInDb === keysExpected &&
        logsInDbOnce === accepted.logs.length &&
        totalLogRowsInDb === accepted.logs.length,
    };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("exit", r)));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function makeLog(today: number, n: number, bandId: Buffer): Buffer {
  const records: EncounterRecord[] = [];
  for (let i = 0; i < n; i++) {
    records.push({
      kind: KIND_EN,
      id: randomBytes(RECORD_ID_BYTES),
      startMinute: i * 7,
      durationMinutes: 5,
      rssiMean: -66,
      aemTx: i & 255,
    });
  }
  const header = { seq: 1, baseTime: (today - 10) * 86400, monotonic: false, bootEpoch: 1 };
  return Buffer.from(signedLogExport(pureCrypto.sha256, randomBytes(16), bandId, [{ header, records }]));
}

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** POSTs JSON with an API key; anything but 200/201 throws with the route, status and answer. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function post(url: string, p: string, body: unknown, key: string): Promise<Record<string, any>> {
  const r = await fetch(url + p, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key },
    body: JSON.stringify(body),
  });
  const j = (await r.json()) as Record<string, unknown>;
  if (r.status !== 200 && r.status !== 201) throw new Error(`${p}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

/** `tracelet authority serve --port 0 --json` on `db` with a config file, as its own process. */
export function spawnServe(db: string, configFile: string, stderr: "ignore" | "pipe"): ChildProcess {
  const cli = path.join(ROOT, "host-tools", "bin", "tracelet.js");
  const args = [cli, "authority", "serve", "--db", db, "--port", "0", "--config", configFile, "--json"];
  return spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", stderr] });
}

/** Resolves with the `--json` line of a spawned serve process once it listens. */
export function listening(child: ChildProcess): Promise<{ url: string; secretsFile: string }> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("authority did not start")), 60000);
    child.stdout!.on("data", (c) => {
      out += c;
      try {
        const v = JSON.parse(out) as { url: string; secretsFile: string };
        clearTimeout(timer);
        resolve(v);
      } catch {
        // incomplete
      }
    });
    child.once("exit", (code) => reject(new Error("authority exited with " + code)));
  });
}

/** p50, p99 and max of latencies in ms. */
export function stats(ms: number[]): LatencyStats {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? round(s[Math.min(s.length - 1, Math.floor(p * s.length))]) : 0);
  return { count: s.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: s.length ? round(s[s.length - 1]) : 0 };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The bench registry's view of this section. */
export const authorityLoadSection: BenchSection = {
  name: "authority-load",
  description: "authority under load: concurrent loopback clients publishing keys and uploading band logs",
  run: (opts) => runLoadBench(opts.quick ? { jobs: 200, clients: 16 } : {}),
  figures: (result) => {
    const r = result as LoadBenchResult;
    const method = `${r.clients} concurrent loopback clients, ${r.jobs} jobs, \`tracelet authority serve\` with a WAL database`;
    return [
      { figure: "requests per second", target: "-", measured: String(r.requestsPerSecond), pass: null, method },
      { figure: "publish p99 latency (ms)", target: "-", measured: String(r.publish.p99Ms), pass: null, method },
      { figure: "band log p99 latency (ms)", target: "-", measured: String(r.bandLog.p99Ms), pass: null, method },
      { figure: "failed requests", target: "0", measured: String(r.failures), pass: r.failures === 0, method },
      {
        figure: "accepted data stored exactly once",
        target: "all",
        measured: `${r.keysInDbOnce}/${r.keysExpected} keys, ${r.logsInDbOnce}/${r.acceptedLogs} logs`,
        pass:
          r.keysInDbOnce === r.keysExpected &&
          r.totalExposureRowsInDb === r.keysExpected &&
          r.logsInDbOnce === r.acceptedLogs &&
          r.totalLogRowsInDb === r.acceptedLogs,
        method: `${method}; database read back afterwards`,
      },
    ];
  },
};

if (require.main === module) {
  const arg = (name: string) => {
    const i = process.argv.indexOf("--" + name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  runLoadBench({ clients: arg("clients"), jobs: arg("jobs") }).then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + "\n"),
    (e) => {
      process.stderr.write(String(e) + "\n");
      process.exitCode = 1;
    },
  );
}

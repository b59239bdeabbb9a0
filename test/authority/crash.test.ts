import { randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import Database from "better-sqlite3";
import { KIND_EN, RECORD_ID_BYTES } from "../../firmware/src/protocol/record";
import {
  certify,
  expectExportedOnce,
  logBytes,
  makeKeys,
  publishBody,
  registerBand,
  TestAuthority,
  TestKey,
} from "./helpers";
import { readExportZip } from "./independent-export";
import { serveProcess, ServeProcess } from "./serve-process";

/**
 * kill -9 of a real serve process during publish bursts and during export generation, then restart on the
 * same database: every acknowledged publish is there exactly once, no publish is half there, SQLite's
 * integrity check passes, and every export file lists the acknowledged keys exactly once (read with the
 * independent decoder). Finally SIGTERM during an upload: the upload is answered, then the process exits 0.
 */
const CONFIG = {
  deployment: "private",
  rateLimits: { enabled: false },
  exports: { windowMinutes: 1, maxKeysPerFile: 500 },
};

interface Job {
  keys: TestKey[];
  body: unknown;
  acked: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function prepare(srv: ServeProcess, n: number): Promise<Job[]> {
  const today = Math.floor(Date.now() / 86400000);
  const jobs: Job[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < n) {
        next++;
        const keys = makeKeys(14, today);
        const c = await certify(srv as unknown as TestAuthority, keys);
        jobs.push({ keys, body: publishBody(keys, c.certificate, c.hmacKey), acked: false });
      }
    }),
  );
  return jobs;
}

/** Publishes with `clients` concurrent clients until the jobs run out or `stop()` says so. */
async function burst(url: string, jobs: Job[], clients: number, stop: () => boolean): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < jobs.length && !stop()) {
        const job = jobs[next++];
        try {
          const r = await fetch(url + "/v1/publish", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(job.body),
          });
          await r.arrayBuffer();
          if (r.status === 200) job.acked = true;
        } catch {
          // killed mid-request: not acknowledged
        }
      }
    }),
  );
}

function countKeys(db: string, jobs: Job[]): { perJob: number[]; total: number; integrity: string } {
  const raw = new Database(db, { readonly: true });
  try {
    const q = raw.prepare("SELECT COUNT(*) AS n FROM exposures WHERE key_data = ?");
    const perJob = jobs.map((j) => j.keys.reduce((n, k) => n + (q.get(k.bytes) as { n: number }).n, 0));
    const total = (raw.prepare("SELECT COUNT(*) AS n FROM exposures").get() as { n: number }).n;
    const integrity = (raw.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check;
    return { perJob, total, integrity };
  } finally {
    raw.close();
  }
}

describe("authority crash safety (kill -9)", () => {
  let dir: string;
  let srv: ServeProcess | undefined;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-authority-crash-"));
  });
  afterAll(async () => {
    if (srv?.alive()) {
      srv.child.kill("SIGKILL");
      await srv.exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("publish bursts and export generation survive kill -9; SIGTERM drains an upload", async () => {
    const db = path.join(dir, "crash.db");
    srv = await serveProcess(db, CONFIG);
    expect(fs.statSync(db).mode & 0o777).toBe(0o600);
    const jobs = await prepare(srv, 360);

    // 1. kill -9 in the middle of a 24-client publish burst.
    const first = jobs.slice(0, 240);
    let acked = 0;
    const running = burst(srv.url, first, 24, () => false);
    while ((acked = first.filter((j) => j.acked).length) < 100) await sleep(5);
    srv.child.kill("SIGKILL");
    await srv.exited;
    await running;
    expect(acked).toBeGreaterThanOrEqual(100);
    for (const f of [db, db + "-wal", db + "-shm"]) {
      if (fs.existsSync(f)) expect(fs.statSync(f).mode & 0o077).toBe(0);
    }

    // 2. Restart, wait for the export window of those keys to close, then kill -9 while index.txt requests
    // build the files (and more publishes arrive), twice: once mid-requests, once during start-up work.
    srv = await serveProcess(db, CONFIG);
    await sleep(61_000 - (Date.now() % 60_000));
    const second = jobs.slice(240);
    const index = async () => {
      try {
        await (await fetch(srv!.url + "/v1/exports/index.txt")).arrayBuffer();
      } catch {
        // killed
      }
    };
    const during = Promise.all([burst(srv.url, second.slice(0, 60), 8, () => false), index(), index()]);
    await sleep(30);
    srv.child.kill("SIGKILL");
    await srv.exited;
    await during;
    srv = await serveProcess(db, CONFIG);
    srv.child.kill("SIGKILL"); // during the start-up export run
    await srv.exited;

    // 3. Restart: everything acknowledged is there exactly once, nothing is half there, the database is sound.
    srv = await serveProcess(db, CONFIG);
    await burst(srv.url, second.slice(60), 8, () => false);
    const ackedJobs = jobs.filter((j) => j.acked);
    const counts = countKeys(db, jobs);
    expect(counts.integrity).toBe("ok");
    jobs.forEach((j, i) => expect(j.acked ? [14] : [0, 14]).toContain(counts.perJob[i]));
    expect(ackedJobs.length).toBeGreaterThanOrEqual(160);

    // Every export file reads with the independent decoder, each window's batches are complete, and every
    // key acknowledged before the window closed is in exactly one file (among the padding decoys).
    const pem = await (await fetch(srv.url + "/v1/exports/signing-key.pem")).text();
    const closedAt = Math.floor(Date.now() / 60_000) * 60;
    const names = (await (await fetch(srv.url + "/v1/exports/index.txt")).text()).trim().split("\n").filter(Boolean);
    expect(names.length).toBeGreaterThan(0);
    const seen = new Map<string, number>();
    const batches = new Map<string, number[]>();
    for (const name of names) {
      const zip = Buffer.from(await (await fetch(srv.url + "/" + name)).arrayBuffer());
      const e = await readExportZip(zip, pem);
      expect(e.signatureValid).toBe(true);
      for (const k of e.keys) seen.set(k.keyHex, (seen.get(k.keyHex) ?? 0) + 1);
      const w = `${e.startTimestamp}-${e.endTimestamp}`;
      batches.set(w, [...(batches.get(w) ?? []), e.batchNum]);
      expect(name).toContain(w);
      expect(e.batchSize).toBeGreaterThanOrEqual(e.batchNum);
    }
    for (const nums of batches.values()) expect(nums.sort((a, b) => a - b)).toEqual(nums.map((_, i) => i + 1));
    for (const j of first.filter((x) => x.acked)) expectExportedOnce(seen, j.keys, closedAt);

    // 4. SIGTERM while a band log is half uploaded: it is still answered (201), then the process exits 0.
    const bandId = randomBytes(8);
    await registerBand(srv as unknown as TestAuthority, bandId, false);
    const log = logBytes(bandId, [
      {
        header: { seq: 1, baseTime: Math.floor(Date.now() / 86400000 - 2) * 86400, monotonic: false, bootEpoch: 1 },
        records: Array.from({ length: 50 }, (_, i) => ({
          kind: KIND_EN,
          id: randomBytes(RECORD_ID_BYTES),
          startMinute: i * 5,
          durationMinutes: 3,
          rssiMean: -60,
          aemTx: 0,
        })),
      },
    ]);
    const keys = makeKeys(2, Math.floor(Date.now() / 86400000));
    const c = await certify(srv as unknown as TestAuthority, keys, { log });
    const answer = new Promise<number>((resolve, reject) => {
      const req = http.request(
        srv!.url + "/v1/band-logs",
        {
          method: "POST",
          headers: {
            "content-type": "application/octet-stream",
            "content-length": String(log.length),
            authorization: "Bearer " + c.certificate,
            "x-tracelet-hmac-key": c.hmacKey.toString("base64"),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.write(log.subarray(0, 100));
      setTimeout(() => {
        srv!.child.kill("SIGTERM");
        setTimeout(() => req.end(log.subarray(100)), 300);
      }, 200);
    });
    expect(await answer).toBe(201);
    expect(await srv.exited).toBe(0);
    expect(countKeys(db, []).integrity).toBe("ok");
  }, 150_000);
});

import { spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ExportSegment } from "../../firmware/src/protocol/record";
import { parseConfig } from "../../host-tools/src/authority/config";
import { deriveServerSubkeys } from "../../host-tools/src/authority/crypto/server-keys";
import { runF1Worker } from "../../host-tools/src/authority/f1/worker";
import { secretsFromFile } from "../../host-tools/src/authority/secrets";
import { PostgresStore } from "../../host-tools/src/authority/store/postgres";
import { PG_SKIP_REASON, PG_URL } from "../postgres";
import {
  bandKeys,
  bandSecretOf,
  call,
  certify,
  DAY0,
  logBytes,
  registerBand,
  sightingOf,
  startTestAuthority,
  TestAuthority,
  uploadLog,
} from "./helpers";

/**
 * F1 resolution as jobs: API nodes started with `f1Workers` leave uploaded logs pending, and workers claim
 * them one at a time (FOR UPDATE SKIP LOCKED). Two workers on one PostgreSQL database resolve every log once
 * and produce the same F1 worklist as the single-process engine (SQLite, resolving in the server) on the same
 * input; `tracelet authority worker` starts, says where it works and stops on SIGTERM.
 */
const CONFIG = { deployment: "escrow", rateLimits: { enabled: false } };

const positives = Array.from({ length: 6 }, () => randomBytes(8));
const escrowBands = Array.from({ length: 8 }, () => randomBytes(8));

/** Positive band i met escrow bands i, i+1 and i+3 (mod 8) on the two days before the clock's day. */
function logOf(i: number): Buffer {
  const segments: ExportSegment[] = [];
  for (const [s, day] of [
    [1, DAY0 - 2],
    [2, DAY0 - 1],
  ]) {
    const base = day * 86400;
    const records = [i, i + 1, i + 3].map((j, k) => {
      const seenAt = base + (9 + k * 3) * 3600 + i * 120;
      return sightingOf(bandSecretOf(escrowBands[j % escrowBands.length]), Math.floor(seenAt / 600), {
        seenAt,
        base,
        duration: 5 + k * 7,
        rssiMean: -50 - k * 10,
        txPower: -6,
      });
    });
    segments.push({ header: { seq: s, baseTime: base, monotonic: false, bootEpoch: 1 }, records });
  }
  return logBytes(positives[i], segments);
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

(PG_URL ? describe : describe.skip)(`F1 workers on PostgreSQL${PG_URL ? "" : " " + PG_SKIP_REASON}`, () => {
  test("two workers resolve every log once, with the single-process engine's result", async () => {
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

    const t = await startTestAuthority({ ...CONFIG, f1Workers: true }, "postgres");
    const stores: PostgresStore[] = [];
    try {
      await loadAuthority(t);
      await t.app.runPendingWork(); // an API node with f1Workers leaves the logs to the workers
      expect((await t.store.listBandLogs(100, 0)).map((l) => l.resolution)).toEqual(positives.map(() => "pending"));
      expect(await worklist(t)).toEqual([]);

      const cfg = parseConfig({ ...CONFIG, f1Workers: true });
      const escrowSealKey = deriveServerSubkeys(secretsFromFile(t.secretsFile, cfg).serverKey).escrowSeal;
      const stop = new AbortController();
      const workers = [1, 2].map(async () => {
        const store = await PostgresStore.open(t.db);
        stores.push(store);
        return runF1Worker({
          store,
          config: cfg,
          escrowSealKey,
          now: () => Math.floor(t.clock.ms / 1000),
          log: () => undefined,
          idleMs: 20,
          stop: stop.signal,
        });
      });
      for (let i = 0; i < 500; i++) {
        const logs = await t.store.listBandLogs(100, 0);
        if (logs.every((l) => l.resolution === "done")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      stop.abort();
      const resolved = await Promise.all(workers);
      expect((await t.store.listBandLogs(100, 0)).map((l) => l.resolution)).toEqual(positives.map(() => "done"));
      expect(resolved.reduce((a, b) => a + b, 0)).toBe(positives.length); // each log claimed once
      expect(await worklist(t)).toEqual(expected);
    } finally {
      for (const s of stores) await s.close();
      await t.close();
    }
  });

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
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await t.close();
    }
  });
});

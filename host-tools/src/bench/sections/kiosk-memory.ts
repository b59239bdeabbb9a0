import { execFileSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { signPages } from "../../../../firmware/src/protocol/log-mac";
import { encodeRecord, encodeSegmentHeader, KIND_EN, RECORD_SIZE } from "../../../../firmware/src/protocol/record";
import { BandStatus } from "../../../../firmware/src/protocol/sync";
import { ROOT } from "../../build/paths";
import { nodePrims } from "../../crypto/native";
import { KioskService } from "../../kiosk/service";
import { simRadio, worldClock } from "../../kiosk/radio";
import { KioskStore } from "../../kiosk/store";
import { World } from "../../sim/world";
import { sig } from "../measure";
import { BenchSection } from "../types";

/**
 * The kiosk's resident memory with 10,000 stored band logs of 14 days (~156 records a day each, signed pages as
 * bands send them, sealed in the store): a kiosk process opens the store, starts its service (the sync engine on
 * the simulator's radio) and runs an exposure check of every log against 10,000 diagnosis keys; its peak resident
 * set (the OS's maxRSS) is the figure. Target <= 300 MB.
 */
const FULL = { logs: 10_000, keys: 10_000 };
const QUICK = { logs: 500, keys: 2_000 };
const TARGET_MB = 300;
const DAYS = 14;
const PER_DAY = 156;

/** The status a band would report at that sync (the fields the store keeps for staff). */
function statusOf(units: number, nowMs: number): BandStatus {
  const t = Math.floor(nowMs / 1000);
  return {
    firmwareVersion: 2,
    boardCode: 1,
    batteryPercent: 80,
    flags: 1,
    bandTime: t,
    uptime: 86400 * DAYS,
    bootEpoch: 1,
    retentionDays: 21,
    driftPpm: 3,
    logStart: 512,
    logEnd: 512 + units,
    syncCursor: 512,
    oldestTime: t - 86400 * DAYS,
    faults: 0,
    records: units,
    lastFaultDuty: 0,
    resets: 0,
  };
}

export function fillStore(dir: string, logs: number, keys: number, nowMs: number): void {
  const store = new KioskStore(dir);
  const day0 = Math.floor(nowMs / 86400_000) - DAYS;
  const key = new Uint8Array(16).fill(9);
  for (let b = 0; b < logs; b++) {
    const bandId = new Uint8Array(randomBytes(8));
    const id = Buffer.from(bandId).toString("hex");
    const units: { cursor: number; bytes: Uint8Array }[] = [];
    let cursor = 512;
    for (let d = 0; d < DAYS; d++) {
      units.push({
        cursor: cursor++,
        bytes: encodeSegmentHeader({ seq: d + 1, baseTime: (day0 + d) * 86400, monotonic: false, bootEpoch: 1 }),
      });
      const ids = randomBytes(PER_DAY * 6);
      for (let r = 0; r < PER_DAY; r++) {
        const u = new Uint8Array(RECORD_SIZE);
        encodeRecord(
          {
            kind: KIND_EN,
            id: ids.subarray(r * 6, r * 6 + 6),
            startMinute: r * 9,
            durationMinutes: 5,
            rssiMean: -70,
            aemTx: r & 255,
          },
          u,
          0,
        );
        units.push({ cursor: cursor++, bytes: u });
      }
    }
    const pages = signPages(nodePrims.sha256, key, bandId, units);
    const syncId = store.beginSync(id, nowMs, statusOf(units.length, nowMs), { errorS: 0, driftPpm: 0 }, false);
    let start = 512;
    store.storePages(
      id,
      syncId,
      512,
      pages.map((p) => {
        const e = { start, page: p, units: (p.body.length / (4 + RECORD_SIZE)) | 0 };
        start = p.next;
        return e;
      }),
      nowMs,
    );
  }
  const dk = Array.from({ length: keys }, (_, i) => ({
    tek: new Uint8Array(randomBytes(16)),
    rollingStartIntervalNumber: (day0 + (i % DAYS)) * 144,
    rollingPeriod: 144,
    transmissionRisk: null,
    reportType: "CONFIRMED_TEST" as const,
    daysSinceOnset: null,
  }));
  store.saveDiagnosisKeys("bench", dk, nowMs);
  store.close();
}

/** In the child: open the kiosk on the full store, run one exposure check of every log, print peak memory. */
export async function memoryChild(dir: string): Promise<void> {
  const world = new World({ seed: 1, startUnix: Math.floor(Date.now() / 1000) });
  const service = new KioskService({
    dataDir: dir,
    radio: simRadio(world),
    clock: worldClock(world),
    authority: { url: "http://127.0.0.1:9", apiKey: "bench-not-used" },
  });
  await world.until(service.engine.start());
  const t0 = Date.now();
  const summary = await (service.checker as NonNullable<typeof service.checker>).run({ download: false });
  const checkSeconds = (Date.now() - t0) / 1000;
  const out = {
    logs: service.store.bandsWithLogs().length,
    bandsChecked: summary.bandsChecked,
    storedKeys: summary.storedKeys,
    checkSeconds,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    rssMB: process.memoryUsage().rss / 1024 / 1024,
  };
  await world.until(service.engine.stop());
  service.store.close();
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
}

export const kioskMemorySection: BenchSection = {
  name: "kiosk-memory",
  description: "kiosk resident memory with 10,000 stored 14-day band logs and an exposure check of all of them",
  run: async (opts) => {
    const size = opts.quick ? QUICK : FULL;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tl-bench-kmem-"));
    const t0 = Date.now();
    fillStore(dir, size.logs, size.keys, Date.now());
    const fillSeconds = (Date.now() - t0) / 1000;
    const dbMB = fs.statSync(path.join(dir, "kiosk.db")).size / 1024 / 1024;
    const out = execFileSync(process.execPath, [path.join(ROOT, "host-tools", "bin", "kiosk-memory-child.js"), dir], {
      encoding: "utf8",
      maxBuffer: 1 << 20,
    });
    fs.rmSync(dir, { recursive: true, force: true });
    const r = JSON.parse(out.trim().split("\n").pop() as string) as {
      maxRssMB: number;
      logs: number;
      bandsChecked: number;
      checkSeconds: number;
    };
    const target = opts.quick ? null : TARGET_MB;
    return {
      pass: r.logs === size.logs && r.bandsChecked === size.logs && (opts.quick || r.maxRssMB <= TARGET_MB),
      quick: !!opts.quick,
      logs: r.logs,
      keys: size.keys,
      maxRssMB: sig(r.maxRssMB, 3),
      checkSeconds: sig(r.checkSeconds, 3),
      storeMB: sig(dbMB, 3),
      fillSeconds: sig(fillSeconds, 3),
      target,
    };
  },
  figures: (result) => {
    const r = result as {
      logs: number;
      keys: number;
      maxRssMB: number;
      checkSeconds: number;
      storeMB: number;
      target: number | null;
    };
    return [
      {
        figure: `kiosk peak resident memory, ${r.logs} stored logs checked against ${r.keys} keys in ${r.checkSeconds} s (store ${r.storeMB} MB), MB`,
        target: r.target === null ? "- (quick)" : `<= ${r.target}`,
        measured: String(r.maxRssMB),
        pass: r.target === null ? null : r.maxRssMB <= r.target,
        method: "maxRSS of a kiosk process: service started, one exposure check of every log",
      },
    ];
  },
};

import { createCipheriv } from "crypto";
import * as os from "os";
import { EN_INTERVAL_SECONDS, EN_TEK_ROLLING_PERIOD } from "../../../../firmware/src/protocol/gaen";
import { KIND_BLUEZONE, KIND_EN, RECORD_ID_BYTES } from "../../../../firmware/src/protocol/record";
import {
  DiagnosisKey,
  MatchLog,
  rpiPlaintexts,
  Sighting,
  SightingIndex,
  SightingMatch,
} from "../../kiosk/exposure/match";
import { deriveAemkNative, deriveRpikNative, RpikDeriver } from "../../kiosk/exposure/rpik";
import { sig } from "../measure";
import { BenchSection } from "../types";

/**
 * The clinic kiosk's exposure check at scale (kiosk/exposure/match.ts): a batch of diagnosis keys against every
 * stored band log of a care home, on one core. Workload: random TEKs with rolling starts over 14 days; 300 band
 * logs of ~156 records a day for 14 days (random ids, 5 % Bluezone), with records planted from real keys (their
 * RPI at a random interval, first sighting up to +-2 h away, tx power encrypted in the AEM) so that matches are
 * expected and checked: every planted record must be found with its tx power, nothing else beyond chance.
 * AES figures: blocks encrypted for RPIs per second of the whole match, as a ratio to Node's AES-128-ECB over one
 * large buffer (the ceiling) and to one cipher per key over 144 blocks (Node's floor for distinct keys), both
 * measured in the same run.
 */

const FULL = { keys: 1_000_000, logs: 300 };
const QUICK = { keys: 50_000, logs: 30 };
const DAYS = 14;
const RECORDS_PER_DAY = 156;
const PLANTED = 200;
const TARGET_SECONDS = 10;
const TARGET_AES_RATIO = 0.5;
/** 2026-11-30 00:00 UTC: the bench's "today"; keys and logs cover the 14 days before. */
const TODAY_UNIX = 1_795_996_800;
const TX_POWER = -8;

/** Deterministic bytes (AES-128-CTR keystream of a fixed key): the same workload every run. */
class Bytes {
  private readonly cipher;
  private buf = Buffer.alloc(0);
  private pos = 0;
  constructor(seed: number) {
    const key = Buffer.alloc(16);
    key.writeUInt32LE(seed, 0);
    this.cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  }
  take(n: number): Buffer {
    if (this.pos + n > this.buf.length) {
      this.buf = this.cipher.update(Buffer.alloc(Math.max(n, 1 << 20)));
      this.pos = 0;
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** Uniform integer in [0, n) (n <= 2^32; bias is irrelevant here). */
  int(n: number): number {
    return this.take(4).readUInt32LE(0) % n;
  }
}

interface Planted {
  log: number;
  sighting: number;
  key: number;
}

function makeKeys(n: number, rnd: Bytes): DiagnosisKey[] {
  const teks = Buffer.from(rnd.take(16 * n));
  const firstDay = Math.floor(TODAY_UNIX / 86400) - DAYS;
  const keys: DiagnosisKey[] = new Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = {
      tek: teks.subarray(16 * i, 16 * i + 16),
      rollingStartIntervalNumber: (firstDay + (i % DAYS)) * EN_TEK_ROLLING_PERIOD,
      rollingPeriod: EN_TEK_ROLLING_PERIOD,
      transmissionRisk: 1 + (i % 8),
      reportType: "CONFIRMED_TEST",
      daysSinceOnset: (i % 15) - 2,
    };
  }
  return keys;
}

/** Logs the bench builds and then plants into (MatchLog's sightings are read-only to the matcher). */
type BenchLog = MatchLog & { sightings: Sighting[] };

function makeLogs(n: number, rnd: Bytes): BenchLog[] {
  const start = TODAY_UNIX - DAYS * 86400;
  const logs: BenchLog[] = [];
  for (let l = 0; l < n; l++) {
    const sightings: Sighting[] = [];
    for (let i = 0; i < DAYS * RECORDS_PER_DAY; i++) {
      const r = rnd.take(10);
      sightings.push({
        kind: r[6] < 13 ? KIND_BLUEZONE : KIND_EN,
        id: Buffer.from(r.subarray(0, RECORD_ID_BYTES)),
        startUnix: start + (r.readUInt32LE(6) % (DAYS * 86400)),
        durationMinutes: (r[7] % 7) * 4,
        rssiMean: -50 - (r[8] % 40),
        aemTx: r[9],
      });
    }
    logs.push({ bandId: `band-${String(l).padStart(4, "0")}`, sightings });
  }
  return logs;
}

/** Replaces PLANTED random records with sightings of real keys' RPIs, up to 12 intervals from the RPI's interval. */
function plant(keys: DiagnosisKey[], logs: BenchLog[], rnd: Bytes): Planted[] {
  const planted: Planted[] = [];
  const used = new Set<string>();
  while (planted.length < PLANTED) {
    const k = rnd.int(keys.length);
    const log = rnd.int(logs.length);
    const s = rnd.int(logs[log].sightings.length);
    if (used.has(`${log}/${s}`)) continue;
    used.add(`${log}/${s}`);
    const key = keys[k];
    const j = rnd.int(key.rollingPeriod);
    const enin = key.rollingStartIntervalNumber + j;
    const rpi = createCipheriv("aes-128-ecb", deriveRpikNative(key.tek), null).update(rpiPlaintexts(enin, 1));
    const ks = createCipheriv("aes-128-ecb", deriveAemkNative(key.tek), null).update(rpi);
    const shift = rnd.int(25) - 12;
    logs[log].sightings[s] = {
      kind: KIND_EN,
      id: Buffer.from(rpi.subarray(0, RECORD_ID_BYTES)),
      startUnix: (enin + shift) * EN_INTERVAL_SECONDS + rnd.int(EN_INTERVAL_SECONDS),
      durationMinutes: rnd.int(7) * 4,
      rssiMean: -60,
      aemTx: (TX_POWER & 255) ^ ks[1],
    };
    planted.push({ log, sighting: s, key: k });
  }
  return planted;
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/**
 * Blocks per second of Node AES-128-ECB over one 4 MB buffer, best of 9 (the machine is shared: the best round is
 * the one least disturbed).
 */
function rawBulkBlocksPerSecond(): number {
  const data = Buffer.alloc(4 << 20);
  const cipher = createCipheriv("aes-128-ecb", Buffer.alloc(16, 1), null);
  cipher.update(data);
  let best = Infinity;
  for (let r = 0; r < 9; r++) {
    const t = process.hrtime.bigint();
    cipher.update(data);
    best = Math.min(best, seconds(t));
  }
  return data.length / 16 / best;
}

/** Microseconds per call of `fn(i)` over `n` calls, best of 3. */
function microsPerCall(n: number, fn: (i: number) => unknown): number {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    best = Math.min(best, seconds(t));
  }
  return (best / n) * 1e6;
}

function checkPlanted(planted: Planted[], matches: SightingMatch[], keys: DiagnosisKey[]) {
  const found = new Map<string, SightingMatch>();
  for (const m of matches) found.set(`${m.logIndex}/${m.sightingIndex}/${m.keyIndex}`, m);
  let missing = 0;
  let wrongTx = 0;
  for (const p of planted) {
    const m = found.get(`${p.log}/${p.sighting}/${p.key}`);
    if (!m) missing++;
    else if (m.txPowerDbm !== TX_POWER || m.key !== keys[p.key]) wrongTx++;
  }
  return { planted: planted.length, missing, wrongTx, unexpected: matches.length - (planted.length - missing) };
}

export const kioskMatchSection: BenchSection = {
  name: "kiosk-match",
  description: "kiosk exposure check: 1M diagnosis keys against 300 stored band logs (14 days each), one core",
  run: async (opts) => {
    const size = opts.quick ? QUICK : FULL;
    const rnd = new Bytes(1);
    const loadBefore = os.loadavg()[0];
    const keys = makeKeys(size.keys, rnd);
    const logs = makeLogs(size.logs, rnd);
    const planted = plant(keys, logs, rnd);

    const tIndex = process.hrtime.bigint();
    const index = new SightingIndex(logs);
    const indexSeconds = seconds(tIndex);
    const tMatch = process.hrtime.bigint();
    const { matches, stats } = index.matchKeys(keys);
    const matchSeconds = seconds(tMatch);
    const check = checkPlanted(planted, matches, keys);

    // Component costs, measured after the match on samples of the same keys.
    const sample = Math.min(20_000, keys.length);
    const deriver = new RpikDeriver();
    const rpik = Buffer.alloc(16);
    const plaintexts = rpiPlaintexts(keys[0].rollingStartIntervalNumber, EN_TEK_ROLLING_PERIOD);
    const hkdfSyncMicros = microsPerCall(sample, (i) => deriveRpikNative(keys[i].tek));
    const rpikMicros = microsPerCall(sample, (i) => deriver.derive(keys[i].tek, 0, rpik));
    const cipherPerKeyMicros = microsPerCall(sample, (i) =>
      createCipheriv("aes-128-ecb", keys[i].tek, null).update(plaintexts),
    );
    const rawBulk = rawBulkBlocksPerSecond();
    const rawPerKey = EN_TEK_ROLLING_PERIOD / (cipherPerKeyMicros / 1e6);
    const achieved = stats.rpis / matchSeconds;
    const totalSeconds = indexSeconds + matchSeconds;
    // --quick (50,000 keys, mostly warm-up) is a smoke run: it judges only that every planted match is found.
    const targetSeconds = opts.quick ? null : TARGET_SECONDS;
    const aesRatioTarget = opts.quick ? null : TARGET_AES_RATIO;
    const ok = check.missing === 0 && check.wrongTx === 0 && check.unexpected <= 1;
    return {
      pass: ok && (opts.quick || (totalSeconds <= TARGET_SECONDS && achieved / rawBulk >= TARGET_AES_RATIO)),
      quick: !!opts.quick,
      keys: size.keys,
      logs: size.logs,
      enSightings: index.stats.enSightings,
      bluezoneSightings: index.stats.bluezoneSightings,
      indexSeconds: sig(indexSeconds, 3),
      matchSeconds: sig(matchSeconds, 3),
      totalSeconds: sig(totalSeconds, 3),
      targetSeconds,
      keysPerSecond: sig(size.keys / matchSeconds, 3),
      rpis: stats.rpis,
      filterHits: stats.filterHits,
      matches: stats.matches,
      check,
      aes: {
        achievedBlocksPerSecond: sig(achieved, 3),
        rawBulkBlocksPerSecond: sig(rawBulk, 3),
        rawPerKeyBlocksPerSecond: sig(rawPerKey, 3),
        ratioToRawBulk: sig(achieved / rawBulk, 3),
        ratioToRawPerKey: sig(achieved / rawPerKey, 3),
        target: aesRatioTarget,
      },
      perKeyMicros: {
        whole: sig((matchSeconds / size.keys) * 1e6, 3),
        rpikHmacState: sig(rpikMicros, 3),
        rpikHkdfSync: sig(hkdfSyncMicros, 3),
        cipherAnd144Blocks: sig(cipherPerKeyMicros, 3),
      },
      loadAverage1m: { before: sig(loadBefore, 3), after: sig(os.loadavg()[0], 3) },
    };
  },
  figures: (result) => {
    const r = result as {
      keys: number;
      logs: number;
      totalSeconds: number;
      targetSeconds: number | null;
      keysPerSecond: number;
      check: ReturnType<typeof checkPlanted>;
      aes: { ratioToRawBulk: number; ratioToRawPerKey: number; target: number | null };
      perKeyMicros: { rpikHmacState: number; rpikHkdfSync: number; cipherAnd144Blocks: number };
      loadAverage1m: { before: number; after: number };
    };
    const how = `${r.keys} keys x ${r.logs} logs (${DAYS} d x ${RECORDS_PER_DAY} records), one thread; load ${r.loadAverage1m.before}-${r.loadAverage1m.after}`;
    return [
      {
        figure: "seconds to check the batch (index + match)",
        target: r.targetSeconds === null ? "- (quick)" : `<= ${r.targetSeconds}`,
        measured: `${r.totalSeconds} s (${r.keysPerSecond} keys/s)`,
        pass: r.targetSeconds === null ? null : r.totalSeconds <= r.targetSeconds,
        method: how,
      },
      {
        figure: "planted matches found with their tx power",
        target: `${r.check.planted}, <= 1 unexpected`,
        measured: `${r.check.planted - r.check.missing - r.check.wrongTx}, ${r.check.unexpected} unexpected`,
        pass: r.check.missing === 0 && r.check.wrongTx === 0 && r.check.unexpected <= 1,
        method: "records planted from real keys' RPIs, first sighting up to +-12 intervals away",
      },
      {
        figure: "RPI AES blocks/s over raw bulk AES-128-ECB",
        target: r.aes.target === null ? "- (quick)" : `>= ${r.aes.target}`,
        measured: `${r.aes.ratioToRawBulk}`,
        pass: r.aes.target === null ? null : r.aes.ratioToRawBulk >= r.aes.target,
        method: "whole match time vs one cipher over a 4 MB buffer (best of 9), same run",
      },
      {
        figure: "RPI AES blocks/s over one cipher per key",
        target: "-",
        measured: `${r.aes.ratioToRawPerKey}`,
        pass: null,
        method: "whole match time vs createCipheriv + one 144-block update per key (Node's floor for distinct keys)",
      },
      {
        figure: "us per key: RPIK (state HMAC / hkdfSync), cipher + 144 blocks",
        target: "-",
        measured: `${r.perKeyMicros.rpikHmacState} / ${r.perKeyMicros.rpikHkdfSync}, ${r.perKeyMicros.cipherAnd144Blocks}`,
        pass: null,
        method: "best of 3 over 20,000 keys of the batch",
      },
    ];
  },
};

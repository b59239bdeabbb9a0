import { createCipheriv, randomInt } from "crypto";
import { endianness } from "os";
import { toHex } from "../../../../firmware/src/protocol/bytes";
import { EN_INTERVAL_SECONDS, EN_TEK_ROLLING_PERIOD } from "../../../../firmware/src/protocol/gaen";
import {
  KIND_BLUEZONE,
  KIND_EN,
  RECORD_ID_BYTES,
  RECORD_MAX_MINUTES,
  TX_PLAUSIBLE_MAX_DBM,
  TX_PLAUSIBLE_MIN_DBM,
} from "../../../../firmware/src/protocol/record";
import { ExportKey, KeyExport, REPORT_TYPES, ReportTypeName } from "../../authority/export/export-file";
import { deriveAemkNative, RpikDeriver } from "./rpik";

/**
 * The kiosk's exposure matcher: published diagnosis keys (and a published list of Bluezone F0 ids) against the
 * encounter logs of every band the kiosk stores, in one pass per key batch.
 *
 * Match rule (docs/protocol.md section 1 for the key schedule, section 5.1 for the window): for each key, the
 * RPI of every interval ENIN in [rollingStartIntervalNumber, rollingStartIntervalNumber + rollingPeriod) is
 * AES-128-ECB(RPIK, "EN-RPI" || 0^6 || uint32 LE ENIN) with RPIK = HKDF-SHA256(TEK, no salt, "EN-RPIK", 16). An
 * Exposure Notification record matches that RPI when
 *   - its 5-byte id (RECORD_ID_BYTES) equals RPI[0..5],
 *   - |floor(record first sighting / 600) - ENIN| <= 12 intervals (MATCH_TOLERANCE_INTERVALS): "a matcher compares
 *     a record only with the RPIs of the +-2 h (25 intervals) around its time" (section 5.1), the tolerance of
 *     Exposure Notification itself for clocks that disagree. Both ends are inclusive: 12 intervals away matches,
 *     13 does not. (The authority's escrow F1 resolution, section 8, uses a narrower window of its own.) And
 *   - the AEM check: the record's tx power, decrypted from its AEM byte 1 as txPower = int8(aemTx XOR
 *     AES-128-ECB(AEMK, RPI)[1]) with AEMK = HKDF-SHA256(TEK, no salt, "EN-AEMK", 16) (protocol/gaen.ts
 *     computeAem), lies in TX_PLAUSIBLE_MIN_DBM..TX_PLAUSIBLE_MAX_DBM (48 of 256 values; record-constants.ts).
 * The attenuation of a match is txPower - rssiMean. falseMatchesPerBand (below) is this rule's false-match rate. Keys whose report type is REVOKED produce nothing, and neither does any key of
 * the same batch with the same TEK (a revision revokes the key it revises).
 * Bluezone records (KIND_BLUEZONE) are not derived from keys: they match when their 5-byte id is the prefix of an
 * id in the published F0 list; they carry no tx power (attenuation is left to the window settings).
 *
 * Speed (bench section kiosk-match): an index over every stored sighting's prefix is built once (a bit filter on
 * the first 4 id bytes, then an exact hash table on all 5); per key, one RPIK derivation (rpik.ts), one Node AES-128-ECB
 * cipher and ONE update over the key's padded data (cached per rolling start), then one filter probe per RPI.
 */
export const MATCH_TOLERANCE_INTERVALS = 12;

/** Tx power values the AEM check accepts (TX_PLAUSIBLE_MIN_DBM..TX_PLAUSIBLE_MAX_DBM). */
export const PLAUSIBLE_TX_VALUES = TX_PLAUSIBLE_MAX_DBM - TX_PLAUSIBLE_MIN_DBM + 1;

/**
 * Expected false matches of one band's log under this file's match rule: each of its `records` Exposure Notification
 * records is compared with every RPI of the 2 x MATCH_TOLERANCE_INTERVALS + 1 intervals around it, of each of
 * `keysPerDay` published keys (a key covers one day, so the intervals around a record belong to about that many keys
 * each); an unrelated RPI, uniformly random, agrees on the RECORD_ID_BYTES prefix with probability 2^-40, and its
 * AEM then decrypts the record's byte to a uniformly random tx power, accepted with probability 48/256.
 */
export function falseMatchesPerBand(records: number, keysPerDay: number): number {
  const comparisons = records * keysPerDay * (2 * MATCH_TOLERANCE_INTERVALS + 1);
  return (comparisons * (PLAUSIBLE_TX_VALUES / 256)) / 2 ** (8 * RECORD_ID_BYTES);
}

/** One record of a stored band log, placed in absolute time (protocol/record.ts EncounterRecord + time). */
export interface Sighting {
  /** KIND_EN or KIND_BLUEZONE (firmware/src/protocol/record.ts). */
  kind: number;
  /** The record's RECORD_ID_BYTES (5) id bytes: RPI or BluezoneId prefix. */
  id: Uint8Array;
  /** Unix seconds of the first sighting; null when the log could not place the record in time (skipped, counted). */
  startUnix: number | null;
  /** Minutes from first to last sighting (0-24). */
  durationMinutes: number;
  /** Mean RSSI (dBm). */
  rssiMean: number;
  /** The record's AEM byte 1 (encrypted tx power; 0 for Bluezone). */
  aemTx: number;
}

/** A stored band log: its sightings in any order. */
export interface MatchLog {
  bandId: string;
  sightings: readonly Sighting[];
}

/** A published diagnosis key (export.proto TemporaryExposureKey, with the proto2 default applied). */
export interface DiagnosisKey {
  /** The 16-byte Temporary Exposure Key. */
  tek: Uint8Array;
  rollingStartIntervalNumber: number;
  /** Intervals the key covers, 1-144. */
  rollingPeriod: number;
  /** Transmission risk level (1-8), null when the export carries none. */
  transmissionRisk: number | null;
  reportType: ReportTypeName;
  daysSinceOnset: number | null;
}

export interface SightingMatch {
  logIndex: number;
  bandId: string;
  /** Index into the log's `sightings`. */
  sightingIndex: number;
  sighting: Sighting;
  source: "en" | "bluezone";
  /** The matched key and its index in the batch (null for Bluezone). */
  key: DiagnosisKey | null;
  keyIndex: number | null;
  /** ENIN of the matched RPI (null for Bluezone). */
  rpiInterval: number | null;
  /** Decrypted tx power, int8 dBm (null for Bluezone). */
  txPowerDbm: number | null;
  /** txPowerDbm - rssiMean (null for Bluezone). */
  attenuationDb: number | null;
}

export interface KeyMatchStats {
  keys: number;
  /** REVOKED keys, and keys whose TEK a REVOKED key of the batch revokes. */
  revokedKeys: number;
  /** Keys whose intervals are more than the tolerance away from every stored sighting (no RPI computed). */
  keysOutsideLogs: number;
  /** RPIs computed (= AES-128 blocks encrypted for RPIs). */
  rpis: number;
  /** RPIs that passed the 4-byte filter (exactly compared on 5 bytes). */
  filterHits: number;
  /** Records whose prefix and time matched but whose AEM decrypted to an implausible tx power (not matches). */
  aemRejected: number;
  matches: number;
}

export interface IndexStats {
  logs: number;
  enSightings: number;
  bluezoneSightings: number;
  /** Sightings with startUnix null: not matched. */
  unplacedSightings: number;
}

/** Keys of an export: `keys` and `revised_keys`, a revised key replacing the original of the same TEK and start. */
export function diagnosisKeysOf(exp: KeyExport): DiagnosisKey[] {
  const revised = new Set(exp.revised_keys.map((k) => toHex(k.key_data) + "/" + k.rolling_start_interval_number));
  const kept = exp.keys.filter((k) => !revised.has(toHex(k.key_data) + "/" + k.rolling_start_interval_number));
  return [...kept, ...exp.revised_keys].map(fromExportKey);
}

function fromExportKey(k: ExportKey): DiagnosisKey {
  return {
    tek: k.key_data,
    rollingStartIntervalNumber: k.rolling_start_interval_number ?? 0,
    rollingPeriod: k.rolling_period ?? EN_TEK_ROLLING_PERIOD,
    transmissionRisk: k.transmission_risk_level ?? null,
    reportType: k.report_type ?? "UNKNOWN",
    daysSinceOnset: k.days_since_onset_of_symptoms ?? null,
  };
}

function checkKey(k: DiagnosisKey, i: number): void {
  const bad = (what: string) => new Error(`diagnosis key ${i}: ${what}`);
  if (!(k.tek instanceof Uint8Array) || k.tek.length !== 16) throw bad("TEK must be 16 bytes");
  if (!Number.isInteger(k.rollingStartIntervalNumber) || k.rollingStartIntervalNumber < 0) {
    throw bad(`rollingStartIntervalNumber ${k.rollingStartIntervalNumber} is not a non-negative integer`);
  }
  if (!Number.isInteger(k.rollingPeriod) || k.rollingPeriod < 1 || k.rollingPeriod > EN_TEK_ROLLING_PERIOD) {
    throw bad(`rollingPeriod ${k.rollingPeriod} is not 1-${EN_TEK_ROLLING_PERIOD}`);
  }
  if (!REPORT_TYPES.includes(k.reportType)) throw bad(`unknown report type "${String(k.reportType)}"`);
}

function checkSighting(s: Sighting, bandId: string, i: number): void {
  const bad = (what: string) => new Error(`band ${bandId} sighting ${i}: ${what}`);
  if (s.kind !== KIND_EN && s.kind !== KIND_BLUEZONE) throw bad(`unknown kind ${s.kind}`);
  if (!(s.id instanceof Uint8Array) || s.id.length !== RECORD_ID_BYTES)
    throw bad(`id must be ${RECORD_ID_BYTES} bytes`);
  if (s.startUnix !== null && !(Number.isFinite(s.startUnix) && s.startUnix >= 0)) {
    throw bad(`startUnix ${s.startUnix} is not a time`);
  }
  if (!Number.isInteger(s.durationMinutes) || s.durationMinutes < 0 || s.durationMinutes > RECORD_MAX_MINUTES) {
    throw bad(`durationMinutes ${s.durationMinutes} is not 0-${RECORD_MAX_MINUTES}`);
  }
  if (!Number.isFinite(s.rssiMean)) throw bad(`rssiMean ${s.rssiMean} is not a number`);
  if (!Number.isInteger(s.aemTx) || s.aemTx < 0 || s.aemTx > 255) throw bad(`aemTx ${s.aemTx} is not a byte`);
}

/** "EN-RPI" || 0^6 || uint32 LE ENIN for `count` intervals from `first`: the plaintext of one key's RPIs. */
export function rpiPlaintexts(first: number, count: number): Buffer {
  const b = Buffer.alloc(16 * count);
  for (let j = 0; j < count; j++) {
    b.write("EN-RPI", 16 * j, "latin1");
    b.writeUInt32LE((first + j) >>> 0, 16 * j + 12);
  }
  return b;
}

/**
 * The cipher output as little-endian 32-bit words (a view when aligned, as Node's own output buffers are): one load
 * per 4 id bytes in the hot loop instead of four.
 */
function wordsOf(b: Buffer): Int32Array {
  if ((b.byteOffset & 3) === 0) return new Int32Array(b.buffer, b.byteOffset, b.length >>> 2);
  const w = new Int32Array(b.length >>> 2);
  new Uint8Array(w.buffer).set(b);
  return w;
}

/**
 * Exact-table slot of a prefix. Honest RPIs are uniformly random, but a hostile advertiser picks what bands log:
 * the prefix is mixed with a per-index random seed so that it cannot aim many sightings at one probe run.
 */
function slotOf(hi: number, lo: number, seed: number, mask: number): number {
  let h = Math.imul(hi ^ seed, 0x9e3779b1) ^ lo;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  return (h ^ (h >>> 13)) & mask;
}

/** Entry order by ENIN: a counting sort (ENINs of 14-21 days span a few thousand values), else a comparison sort. */
function sortByEnin(enin: readonly number[]): Int32Array {
  const n = enin.length;
  const order = new Int32Array(n);
  if (n === 0) return order;
  let min = Infinity;
  let max = -Infinity;
  for (const v of enin) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max - min > 4 * n + 65536) {
    const sorted = Array.from({ length: n }, (_, i) => i).sort((a, b) => enin[a] - enin[b]);
    order.set(sorted);
    return order;
  }
  const start = new Int32Array(max - min + 2);
  for (const v of enin) start[v - min + 1]++;
  for (let i = 1; i < start.length; i++) start[i] += start[i - 1];
  for (let i = 0; i < n; i++) order[start[enin[i] - min]++] = i;
  return order;
}

/** A bit filter over the first 4 id bytes of a set of sightings: no bit set, no sighting with that prefix. */
interface PrefixFilter {
  words: Int32Array;
  mask: number;
}

/** Keys sharing one (rolling start, period) share a windowed filter when at least this many of them do. */
const MIN_KEYS_PER_WINDOW_FILTER = 256;

/**
 * Every stored sighting, indexed for matching. Build it once from all stored logs, then match each downloaded key
 * batch (matchKeys) and the Bluezone F0 list (matchBluezone) against it.
 */
export class SightingIndex {
  readonly stats: IndexStats;
  private readonly logs: readonly MatchLog[];
  // Exposure Notification sightings sorted by first-sighting ENIN, struct of arrays: log index, sighting index,
  // ENIN, id bytes 0-3 as a little-endian word (as wordsOf reads the cipher output).
  private readonly logOf: Int32Array;
  private readonly sightingOf: Int32Array;
  private readonly eninOf: Int32Array;
  private readonly hiOf: Int32Array;
  /** Id byte 4. */
  private readonly loOf: Uint8Array;
  /**
   * Exact lookup on all 5 id bytes: open addressing, linear probing, slot = entry + 1 (0 empty), at most half full.
   * Entries with the same id (one RPI seen by several bands) sit in one probe run.
   */
  private readonly table: Int32Array;
  private readonly tableMask: number;
  private readonly seed = randomInt(0x7fffffff);
  /** Over every sighting; keys whose (start, period) is rare in a batch use it. */
  private readonly wholeFilter: PrefixFilter;
  private readonly bluezone: { log: number; sighting: number; hex: string }[] = [];
  private readonly plaintexts = new Map<number, Buffer>();

  constructor(logs: readonly MatchLog[]) {
    if (endianness() !== "LE")
      throw new Error("the exposure matcher reads words little-endian: big-endian hosts are not supported");
    this.logs = logs;
    const stats: IndexStats = { logs: logs.length, enSightings: 0, bluezoneSightings: 0, unplacedSightings: 0 };
    const enLog: number[] = [];
    const enSighting: number[] = [];
    const enEnin: number[] = [];
    for (let l = 0; l < logs.length; l++) {
      const log = logs[l];
      for (let i = 0; i < log.sightings.length; i++) {
        const s = log.sightings[i];
        checkSighting(s, log.bandId, i);
        if (s.startUnix === null) {
          stats.unplacedSightings++;
        } else if (s.kind === KIND_BLUEZONE) {
          stats.bluezoneSightings++;
          this.bluezone.push({ log: l, sighting: i, hex: toHex(s.id) });
        } else {
          enLog.push(l);
          enSighting.push(i);
          enEnin.push(Math.floor(s.startUnix / EN_INTERVAL_SECONDS));
        }
      }
    }
    const n = enLog.length;
    stats.enSightings = n;
    const order = sortByEnin(enEnin);
    this.logOf = new Int32Array(n);
    this.sightingOf = new Int32Array(n);
    this.eninOf = new Int32Array(n);
    this.hiOf = new Int32Array(n);
    this.loOf = new Uint8Array(n);
    let size = 1 << 10;
    while (size < 2 * n) size *= 2;
    this.table = new Int32Array(size);
    this.tableMask = size - 1;
    for (let e = 0; e < n; e++) {
      const src = order[e];
      const id = logs[enLog[src]].sightings[enSighting[src]].id;
      const hi = id[0] | (id[1] << 8) | (id[2] << 16) | (id[3] << 24);
      this.logOf[e] = enLog[src];
      this.sightingOf[e] = enSighting[src];
      this.eninOf[e] = enEnin[src];
      this.hiOf[e] = hi;
      this.loOf[e] = id[4];
      let slot = slotOf(hi, this.loOf[e], this.seed, this.tableMask);
      while (this.table[slot] !== 0) slot = (slot + 1) & this.tableMask;
      this.table[slot] = e + 1;
    }
    this.wholeFilter = this.buildFilter(0, n, 32, 1 << 26);
    this.stats = stats;
  }

  /** Every Exposure Notification sighting that an RPI of `keys` matches (rule: file comment). */
  matchKeys(keys: readonly DiagnosisKey[]): { matches: SightingMatch[]; stats: KeyMatchStats } {
    const stats: KeyMatchStats = {
      keys: keys.length,
      revokedKeys: 0,
      keysOutsideLogs: 0,
      rpis: 0,
      filterHits: 0,
      aemRejected: 0,
      matches: 0,
    };
    const matches: SightingMatch[] = [];
    const revoked = new Set<string>();
    for (let k = 0; k < keys.length; k++) {
      checkKey(keys[k], k);
      if (keys[k].reportType === "REVOKED") revoked.add(toHex(keys[k].tek));
    }
    // Keys grouped by (rolling start, period), groups in time order: a group's keys are checked against a filter of
    // only the sightings within the tolerance of its intervals (about a day of a 14-day log), small enough to stay in
    // the CPU cache (1 MB at most) while rejecting all but ~1 % of RPIs, instead of one filter of every sighting.
    const groups = new Map<number, number[]>();
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k];
      if (key.reportType === "REVOKED" || (revoked.size > 0 && revoked.has(toHex(key.tek)))) {
        stats.revokedKeys++;
        continue;
      }
      const id = key.rollingStartIntervalNumber * 256 + key.rollingPeriod;
      const g = groups.get(id);
      if (g) g.push(k);
      else groups.set(id, [k]);
    }
    const deriver = new RpikDeriver();
    const rpik = Buffer.alloc(16);
    const tol = MATCH_TOLERANCE_INTERVALS;
    for (const id of [...groups.keys()].sort((a, b) => a - b)) {
      const members = groups.get(id) as number[];
      const first = Math.floor(id / 256);
      const period = id % 256;
      const a = this.lowerBound(first - tol);
      const b = this.lowerBound(first + period + tol);
      if (a === b) {
        stats.keysOutsideLogs += members.length;
        continue;
      }
      const filter =
        members.length >= MIN_KEYS_PER_WINDOW_FILTER ? this.buildFilter(a, b, 128, 1 << 23) : this.wholeFilter;
      const words = filter.words;
      const mask = filter.mask;
      const plaintexts = this.plaintextsFor(first, period);
      for (const k of members) {
        const key = keys[k];
        deriver.derive(key.tek, 0, rpik);
        const rpis: Buffer = createCipheriv("aes-128-ecb", rpik, null).update(plaintexts);
        const w = wordsOf(rpis);
        stats.rpis += period;
        for (let j = 0; j < period; j++) {
          const hi = w[j << 2];
          const bit = hi & mask;
          if ((words[bit >>> 5] & (1 << (bit & 31))) === 0) continue;
          stats.filterHits++;
          stats.aemRejected += this.exactMatches(key, k, rpis, j << 4, first + j, hi, w[(j << 2) + 1] & 0xff, matches);
        }
      }
    }
    stats.matches = matches.length;
    matches.sort(
      (x, y) => x.logIndex - y.logIndex || x.sightingIndex - y.sightingIndex || (x.keyIndex ?? 0) - (y.keyIndex ?? 0),
    );
    return { matches, stats };
  }

  /** The first entry whose ENIN is >= enin (entries are sorted by ENIN). */
  private lowerBound(enin: number): number {
    let lo = 0;
    let hi = this.eninOf.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.eninOf[mid] < enin) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * A filter over entries [a, b) with about `bitsPerSighting` bits per sighting (at most `maxBits`): a random RPI
   * passes with probability about 1 / bitsPerSighting.
   */
  private buildFilter(a: number, b: number, bitsPerSighting: number, maxBits: number): PrefixFilter {
    let bits = 1 << 10;
    while (bits < (b - a) * bitsPerSighting && bits < maxBits) bits *= 2;
    const words = new Int32Array(bits >>> 5);
    const mask = bits - 1;
    for (let e = a; e < b; e++) {
      const bit = this.hiOf[e] & mask;
      words[bit >>> 5] |= 1 << (bit & 31);
    }
    return { words, mask };
  }

  /**
   * Bluezone sightings whose id is the prefix of a published F0 id. `f0Ids`: hex ids (upper or lower case) of at
   * least RECORD_ID_BYTES bytes; only their first 5 bytes can be compared (that is all a record keeps).
   */
  matchBluezone(f0Ids: Iterable<string>): SightingMatch[] {
    const prefixes = new Set<string>();
    for (const id of f0Ids) {
      if (typeof id !== "string" || !/^([0-9a-fA-F]{2})+$/.test(id) || id.length < 2 * RECORD_ID_BYTES) {
        throw new Error(`Bluezone F0 id "${String(id)}" is not hex of at least ${RECORD_ID_BYTES} bytes`);
      }
      prefixes.add(id.slice(0, 2 * RECORD_ID_BYTES).toLowerCase());
    }
    const out: SightingMatch[] = [];
    for (const b of this.bluezone) {
      if (!prefixes.has(b.hex)) continue;
      const log = this.logs[b.log];
      out.push({
        logIndex: b.log,
        bandId: log.bandId,
        sightingIndex: b.sighting,
        sighting: log.sightings[b.sighting],
        source: "bluezone",
        key: null,
        keyIndex: null,
        rpiInterval: null,
        txPowerDbm: null,
        attenuationDb: null,
      });
    }
    return out;
  }

  private plaintextsFor(first: number, period: number): Buffer {
    const id = first * 256 + period;
    let b = this.plaintexts.get(id);
    if (!b) {
      // Keys start at day boundaries, so a batch has few distinct starts; the bound only guards odd batches.
      if (this.plaintexts.size >= 4096) this.plaintexts.clear();
      b = rpiPlaintexts(first, period);
      this.plaintexts.set(id, b);
    }
    return b;
  }

  private exactMatches(
    key: DiagnosisKey,
    keyIndex: number,
    rpis: Buffer,
    offset: number,
    enin: number,
    hi: number,
    lo: number,
    out: SightingMatch[],
  ): number {
    let keystream: Buffer | null = null;
    let rejected = 0;
    const mask = this.tableMask;
    for (let slot = slotOf(hi, lo, this.seed, mask); this.table[slot] !== 0; slot = (slot + 1) & mask) {
      const e = this.table[slot] - 1;
      if (this.hiOf[e] !== hi || this.loOf[e] !== lo) continue;
      if (Math.abs(this.eninOf[e] - enin) > MATCH_TOLERANCE_INTERVALS) continue;
      const rpi = rpis.subarray(offset, offset + 16);
      keystream ??= createCipheriv("aes-128-ecb", deriveAemkNative(key.tek), null).update(rpi);
      const log = this.logs[this.logOf[e]];
      const s = log.sightings[this.sightingOf[e]];
      const tx = ((s.aemTx ^ keystream[1]) << 24) >> 24;
      if (tx < TX_PLAUSIBLE_MIN_DBM || tx > TX_PLAUSIBLE_MAX_DBM) {
        rejected++;
        continue;
      }
      out.push({
        logIndex: this.logOf[e],
        bandId: log.bandId,
        sightingIndex: this.sightingOf[e],
        sighting: s,
        source: "en",
        key,
        keyIndex,
        rpiInterval: enin,
        txPowerDbm: tx,
        attenuationDb: tx - s.rssiMean,
      });
    }
    return rejected;
  }
}

/** One-shot form: index `logs`, match `keys` and, when given, the Bluezone F0 list. */
export function matchExposures(
  keys: readonly DiagnosisKey[],
  logs: readonly MatchLog[],
  opts: { bluezoneF0Ids?: Iterable<string> } = {},
): { matches: SightingMatch[]; keyStats: KeyMatchStats; indexStats: IndexStats } {
  const index = new SightingIndex(logs);
  const en = index.matchKeys(keys);
  const bz = opts.bluezoneF0Ids ? index.matchBluezone(opts.bluezoneF0Ids) : [];
  const matches = [...en.matches, ...bz].sort((a, b) => a.logIndex - b.logIndex || a.sightingIndex - b.sightingIndex);
  return { matches, keyStats: en.stats, indexStats: index.stats };
}

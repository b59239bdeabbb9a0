import { createHash, createHmac, randomBytes } from "crypto";
import { pureCrypto } from "../../firmware/src/protocol/crypto";
import { escrowTek } from "../../firmware/src/protocol/escrow";
import { computeAem, computeRpi, deriveAemk, deriveRpik, enMetadata } from "../../firmware/src/protocol/gaen";
import { signedLogExport } from "../../firmware/src/protocol/log-mac";
import { EncounterRecord, ExportSegment, KIND_EN, RECORD_ID_BYTES } from "../../firmware/src/protocol/record";
import { AuthorityApp } from "../../host-tools/src/authority/app";
import { parseConfig } from "../../host-tools/src/authority/config";
import { releaseAt } from "../../host-tools/src/authority/publish";
import { computeLogmac, computeTekmac, MacKey } from "../../host-tools/src/authority/crypto/tekmac";
import { generateSecretsFile, SecretsFile, secretsFromFile } from "../../host-tools/src/authority/secrets";
import { RunningAuthority, startServer } from "../../host-tools/src/authority/server";
import Database from "better-sqlite3";
import pg from "pg";
import { openStore } from "../../host-tools/src/authority/store/open";
import { isPostgresUrl } from "../../host-tools/src/authority/store/postgres";
import { AuthorityStore } from "../../host-tools/src/authority/store/store";
import { dropPostgres, freshPostgresUrl } from "../postgres";

/** 2025-03-10T12:00:00Z: tests run on a fake clock starting here. */
export const T0 = Date.UTC(2025, 2, 10, 12, 0, 0);
export const DAY0 = Math.floor(T0 / 86400000);

export interface TestAuthority {
  app: AuthorityApp;
  server: RunningAuthority;
  store: AuthorityStore;
  /** The database: a SQLite file, ":memory:" or a postgres:// URL. */
  db: string;
  url: string;
  secretsFile: SecretsFile;
  adminKey: string;
  kioskKey: string;
  flasherKey: string;
  /** Fake clock in milliseconds; tests move it. */
  clock: { ms: number };
  logs: string[];
  /**
   * Runs SQL on the authority's database behind the store's back (`?` placeholders, either backend): what a
   * test that tampers with or inspects raw rows uses. Not for ":memory:".
   */
  rawSql(sql: string, ...args: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/**
 * An authority on loopback with a fake clock. `db`: a SQLite file, ":memory:", "postgres" for a fresh
 * database of its own on the test server (test/postgres.ts), dropped on close, or a postgres:// URL (another
 * API node on that database: pass the first node's `secretsFile` too).
 */
export async function startTestAuthority(
  config: Record<string, unknown> = {},
  db = ":memory:",
  sharedSecrets?: SecretsFile,
): Promise<TestAuthority> {
  const cfg = parseConfig(config);
  const secretsFile = sharedSecrets ?? generateSecretsFile();
  const secrets = secretsFromFile(secretsFile, cfg);
  const pgUrl = db === "postgres" ? await freshPostgresUrl() : undefined;
  const store = await openStore(pgUrl ?? db);
  const clock = { ms: T0 };
  const logs: string[] = [];
  const app = new AuthorityApp({ config: cfg, secrets, store, now: () => clock.ms, log: (l) => logs.push(l) });
  const server = await startServer(app, { host: "127.0.0.1", port: 0 });
  const key = (role: string) => secretsFile.apiKeys.find((k) => k.role === role)!.key;
  return {
    app,
    server,
    store,
    db: pgUrl ?? db,
    url: server.url,
    secretsFile,
    adminKey: key("admin"),
    kioskKey: key("kiosk"),
    flasherKey: key("flasher"),
    clock,
    logs,
    rawSql: (sql, ...args) => rawSql(pgUrl ?? db, sql, args),
    close: async () => {
      await server.close();
      await store.close();
      if (pgUrl) await dropPostgres(pgUrl);
    },
  };
}

export interface HttpResult {
  status: number;
  headers: Headers;
  buffer: Buffer;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function call(
  t: { url: string },
  method: string,
  path: string,
  o: { json?: unknown; body?: Buffer | string; key?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...o.headers };
  let body: Buffer | string | undefined = o.body;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers["content-type"] ??= "application/json";
  }
  if (o.key) headers["x-api-key"] = o.key;
  const res = await fetch(t.url + path, { method, headers, body });
  const buffer = Buffer.from(await res.arrayBuffer());
  const text = buffer.toString("utf8");
  let json: unknown = undefined;
  if ((res.headers.get("content-type") ?? "").includes("json")) json = JSON.parse(text);
  return { status: res.status, headers: res.headers, buffer, text, json };
}

export interface TestKey extends MacKey {
  bytes: Buffer;
}

/** Diagnosis keys for the `days` whole days before the clock's day. */
export function makeKeys(days: number, today = DAY0, risk?: number): TestKey[] {
  const out: TestKey[] = [];
  for (let d = 1; d <= days; d++) {
    const bytes = randomBytes(16);
    out.push({
      bytes,
      key: bytes.toString("base64"),
      rollingStartNumber: (today - d) * 144,
      rollingPeriod: 144,
      transmissionRisk: risk,
    });
  }
  return out;
}

/** The kiosk side of the flow: code -> token -> certificate for these keys (and optionally a band log). */
export async function certify(
  t: TestAuthority,
  keys: MacKey[],
  o: { log?: Buffer; testType?: string; symptomDate?: string } = {},
): Promise<{ certificate: string; hmacKey: Buffer; code: string; token: string }> {
  const issue = await call(t, "POST", "/api/issue", {
    key: t.adminKey,
    json: { testType: o.testType ?? "confirmed", symptomDate: o.symptomDate },
  });
  if (issue.status !== 200) throw new Error("issue failed: " + issue.text);
  const verify = await call(t, "POST", "/api/verify", { key: t.kioskKey, json: { code: issue.json.code } });
  if (verify.status !== 200) throw new Error("verify failed: " + verify.text);
  const hmacKey = randomBytes(32);
  const certReq: Record<string, string> = {
    token: verify.json.token,
    ekeyhmac: computeTekmac(keys, hmacKey).toString("base64"),
  };
  if (o.log) certReq.logmac = computeLogmac(o.log, hmacKey).toString("base64");
  const cert = await call(t, "POST", "/api/certificate", { key: t.kioskKey, json: certReq });
  if (cert.status !== 200) throw new Error("certificate failed: " + cert.text);
  return { certificate: cert.json.certificate, hmacKey, code: issue.json.code, token: verify.json.token };
}

export function publishBody(
  keys: TestKey[],
  certificate: string,
  hmacKey: Buffer,
  extra: Record<string, unknown> = {},
) {
  return {
    temporaryExposureKeys: keys.map((k) => ({
      key: k.key,
      rollingStartNumber: k.rollingStartNumber,
      rollingPeriod: k.rollingPeriod,
      ...(k.transmissionRisk !== undefined ? { transmissionRisk: k.transmissionRisk } : {}),
    })),
    healthAuthorityID: "tracelet",
    verificationPayload: certificate,
    hmacKey: hmacKey.toString("base64"),
    padding: randomBytes(64).toString("base64"),
    ...extra,
  };
}

/**
 * POST /v1/band-logs. `keys`: the certificate's keys, sent as X-Tracelet-Keys (escrow deployments need them to
 * check that the certificate is the band's).
 */
export function uploadLog(t: { url: string }, log: Buffer, certificate: string, hmacKey: Buffer, keys?: MacKey[]) {
  const headers: Record<string, string> = {
    "content-type": "application/octet-stream",
    authorization: "Bearer " + certificate,
    "x-tracelet-hmac-key": hmacKey.toString("base64"),
  };
  if (keys) headers["x-tracelet-keys"] = keysHeader(keys);
  return call(t, "POST", "/v1/band-logs", { body: log, headers });
}

/** X-Tracelet-Keys: base64 of the keys' JSON, as published. */
export function keysHeader(keys: MacKey[]): string {
  const plain = keys.map((k) => ({
    key: k.key,
    rollingStartNumber: k.rollingStartNumber,
    rollingPeriod: k.rollingPeriod,
    ...(k.transmissionRisk !== undefined ? { transmissionRisk: k.transmissionRisk } : {}),
  }));
  return Buffer.from(JSON.stringify(plain)).toString("base64");
}

/** The band secret tests give a band id (so any test can sign a log for any band id). */
export function bandSecretOf(bandId: Uint8Array): Buffer {
  return createHash("sha256").update("test-band-secret").update(bandId).digest().subarray(0, 16);
}

/** The escrow TEKs of a band (secret `bandSecretOf(bandId)` unless given) for the `days` days before `today`. */
export function bandKeys(bandId: Uint8Array, days: number, today = DAY0, secret = bandSecretOf(bandId)): TestKey[] {
  const out: TestKey[] = [];
  for (let d = 1; d <= days; d++) {
    const bytes = Buffer.from(escrowTek(pureCrypto, secret, today - d));
    out.push({ bytes, key: bytes.toString("base64"), rollingStartNumber: (today - d) * 144, rollingPeriod: 144 });
  }
  return out;
}

/** The sync key tests give a band id. */
export function syncKeyOf(bandId: Uint8Array): Buffer {
  return createHash("sha256").update("test-band-sync-key").update(bandId).digest().subarray(0, 16);
}

/**
 * Registers a band as the flasher would: with its sync key (syncKeyOf) and its escrow secret (bandSecretOf)
 * unless `escrow` is false.
 */
export async function registerBand(t: TestAuthority, bandId: Uint8Array, escrow = true, secret?: Uint8Array) {
  const json: Record<string, string> = {
    bandId: Buffer.from(bandId).toString("hex"),
    board: "puckjs",
    syncKey: syncKeyOf(bandId).toString("hex"),
  };
  if (escrow) json.escrowSecret = Buffer.from(secret ?? bandSecretOf(bandId)).toString("hex");
  const r = await call(t, "POST", "/api/bands", { key: t.flasherKey, json });
  if (r.status !== 201 && r.status !== 200) throw new Error("register failed: " + r.text);
}

/** What a band that met an escrow band logged: the RPI prefix and encrypted tx byte of the interval `enin`. */
export function sightingOf(
  secret: Uint8Array,
  enin: number,
  o: {
    seenAt: number;
    base: number;
    duration: number;
    rssiMean: number;
    txPower: number;
  },
): EncounterRecord {
  const tek = escrowTek(pureCrypto, secret, Math.floor(enin / 144));
  const rpi = computeRpi(pureCrypto, deriveRpik(pureCrypto, tek), enin);
  const aem = computeAem(pureCrypto, deriveAemk(pureCrypto, tek), rpi, enMetadata(o.txPower));
  return {
    kind: KIND_EN,
    id: rpi.subarray(0, RECORD_ID_BYTES),
    startMinute: Math.round((o.seenAt - o.base) / 60),
    durationMinutes: o.duration,
    rssiMean: o.rssiMean,
    aemTx: aem[1],
  };
}

/** The TLX v3 upload of these segments, signed with the band's log key (secret `bandSecretOf(bandId)` by default). */
export function logBytes(bandId: Buffer, segments: ExportSegment[], secret: Uint8Array = bandSecretOf(bandId)): Buffer {
  return Buffer.from(signedLogExport(pureCrypto.sha256, secret, bandId, segments));
}

/**
 * The log of a positive band that met three of `contacts` (i, i+1 and i+3, mod their number) on the two days
 * before `today`, once each, at 9:00, 12:00 and 15:00 (+ i x 2 min): the F1 tests' fixed input.
 */
export function positiveLogOf(positive: Buffer, contacts: Uint8Array[], i: number, today: number): Buffer {
  const segments: ExportSegment[] = [];
  for (const [s, day] of [
    [1, today - 2],
    [2, today - 1],
  ]) {
    const base = day * 86400;
    const records = [i, i + 1, i + 3].map((j, k) => {
      const seenAt = base + (9 + k * 3) * 3600 + i * 120;
      return sightingOf(bandSecretOf(contacts[j % contacts.length]), Math.floor(seenAt / 600), {
        seenAt,
        base,
        duration: 5 + k * 7,
        rssiMean: -50 - k * 10,
        txPower: -6,
      });
    });
    segments.push({ header: { seq: s, baseTime: base, monotonic: false, bootEpoch: 1 }, records });
  }
  return logBytes(positive, segments);
}

export function hmacSha256(key: Uint8Array, msg: string | Uint8Array): Buffer {
  return createHmac("sha256", key).update(msg).digest();
}

async function rawSql(db: string, sql: string, args: unknown[]): Promise<Record<string, unknown>[]> {
  if (db === ":memory:") throw new Error("rawSql: an in-memory database has no other connection");
  if (!isPostgresUrl(db)) {
    const raw = new Database(db);
    try {
      const st = raw.prepare(sql);
      if (/^\s*SELECT/i.test(sql)) return st.all(...args) as Record<string, unknown>[];
      st.run(...args);
      return [];
    } finally {
      raw.close();
    }
  }
  const c = new pg.Client({ connectionString: db });
  await c.connect();
  try {
    let n = 0;
    return (
      await c.query(
        sql.replace(/\?/g, () => `$${++n}`),
        args,
      )
    ).rows;
  } finally {
    await c.end();
  }
}

/**
 * Asserts how many export files hold each of `keys` (published before `closedAt`), `seen` counting them by key
 * hex, once the windows before `closedAt` (Unix s) are built: exactly one when the key's release (publish.ts
 * releaseAt: the embargo after its validity) fell before `closedAt`; none while it is still embargoed now (from
 * 00:00 to 02:00 UTC yesterday's key is); either in between (its window may close while the test reads).
 */
export function expectExportedOnce(seen: Map<string, number>, keys: TestKey[], closedAt: number): void {
  const now = Date.now() / 1000;
  for (const k of keys) {
    const at = releaseAt(k, 0);
    const hex = k.bytes.toString("hex");
    if (at < closedAt) expect({ key: hex, files: seen.get(hex) }).toEqual({ key: hex, files: 1 });
    else if (at > now) expect({ key: hex, files: seen.get(hex) }).toEqual({ key: hex, files: undefined });
  }
}

import { randomBytes } from "crypto";
import { ExportSegment } from "../../firmware/src/protocol/record";
import { computeTekmac } from "../../host-tools/src/authority/crypto/tekmac";
import {
  decodeExportBin,
  decodeSignatureList,
  unzipExport,
  verifyExportSignature,
} from "../../host-tools/src/authority/export/export-file";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { KioskStore } from "../../host-tools/src/kiosk/store";
import { UploadOutcome, UploadQueue } from "../../host-tools/src/kiosk/uploads";
import {
  AuthorityClient,
  AuthorityError,
  PUBLISH_BODY_JITTER,
  PUBLISH_BODY_TARGET,
} from "../../host-tools/src/kiosk/authority-client";
import {
  bandKeys,
  call,
  DAY0,
  logBytes,
  makeKeys,
  registerBand,
  sightingOf,
  startTestAuthority,
  syncKeyOf,
  TestAuthority,
  TestKey,
} from "../authority/helpers";

/** The kiosk's authority client against a real authority on loopback. */

async function issueCode(t: TestAuthority, testType = "confirmed"): Promise<string> {
  const r = await call(t, "POST", "/api/issue", { key: t.adminKey, json: { testType } });
  if (r.status !== 200) throw new Error("issue failed: " + r.text);
  return r.json.code;
}

/** A positive band's TLX v3 log: one segment with one sighting of some other band. */
function positiveLog(band: Buffer): Buffer {
  const base = (DAY0 - 2) * 86400;
  const seenAt = base + 9 * 3600;
  const segments: ExportSegment[] = [
    {
      header: { seq: 1, baseTime: base, monotonic: false, bootEpoch: 1 },
      records: [
        sightingOf(randomBytes(16), Math.floor(seenAt / 600), {
          seenAt,
          base,
          duration: 12,
          rssiMean: -60,
          txPower: -6,
        }),
      ],
    },
  ];
  return logBytes(band, segments);
}

/**
 * The kiosk's tested-positive path (uploads.ts): a saved job worked step by step by the upload queue with this
 * client, run until it is done or stops. Returns the job's outcome, the saved result and its final state.
 */
async function positive(
  client: AuthorityClient,
  report: { code: string; teks: readonly TestKey[]; tlx?: Buffer },
  rounds = 1,
): Promise<{ state: string; error?: string; result: Record<string, unknown> }> {
  const store = new KioskStore(fs.mkdtempSync(path.join(os.tmpdir(), "tl-kclient-")));
  const queue = new UploadQueue(
    store,
    client,
    () => 0,
    () => undefined,
  );
  const id = queue.enqueue("band", {
    step: "verify",
    code: report.code,
    teks: report.teks.map((k) => ({
      key: k.key,
      rollingStartNumber: k.rollingStartNumber,
      rollingPeriod: k.rollingPeriod,
    })),
    tlx: report.tlx?.toString("base64"),
  });
  let out: UploadOutcome | undefined;
  for (let i = 0; i < rounds; i++) {
    store.updateUpload(id, { nextTryAt: 0 });
    [out] = await queue.run(id);
    if (!out || out.state === "done" || out.state === "failed" || out.state === "needs_code") break;
  }
  const row = store.uploads().find((u) => u.id === id)!;
  store.close();
  return { state: row.state, error: row.lastError ?? undefined, result: (row.result ?? {}) as Record<string, unknown> };
}

/** What a caller must never find in an error message. */
function expectNoSecrets(e: unknown, secrets: readonly string[]): void {
  expect(e).toBeInstanceOf(AuthorityError);
  const text = `${(e as Error).message} ${JSON.stringify(e)}`;
  for (const s of secrets) if (s) expect(text).not.toContain(s);
}

async function failure(p: Promise<unknown>): Promise<AuthorityError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AuthorityError) return e;
    throw e;
  }
  throw new Error("expected an AuthorityError");
}

describe.each(["escrow", "private"] as const)("AuthorityClient, %s deployment", (deployment) => {
  let t: TestAuthority;
  const band = randomBytes(8);
  let teks: TestKey[];
  beforeAll(async () => {
    t = await startTestAuthority({ deployment, rateLimits: { enabled: false } });
    await registerBand(t, band, deployment === "escrow");
    // Escrow bands' keys are derived from their secret (the authority checks the log's keys are the band's).
    teks = deployment === "escrow" ? bandKeys(band, 14) : makeKeys(14);
  });
  afterAll(async () => {
    await t.close();
  });

  test("bands() gives the kiosk every band's sync key", async () => {
    const client = new AuthorityClient(t.url, t.kioskKey);
    const r = await client.bands();
    expect(r.bands).toEqual([
      {
        bandId: band.toString("hex"),
        board: "puckjs",
        syncKey: syncKeyOf(band).toString("hex"),
        escrow: deployment === "escrow",
        registeredAt: new Date(t.clock.ms).toISOString(),
      },
    ]);
    expect(r.deleted).toEqual([]);
    // A refresh repeats a minute before `since`: past that, nothing changed.
    expect((await client.bands(r.asOf)).bands).toHaveLength(1);
    t.clock.ms += 5 * 60_000;
    const later = (await client.bands()).asOf;
    const inc = await client.bands(later);
    expect(inc).toMatchObject({ bands: [], deleted: [] });
    expect((await client.bands(new Date(Date.parse(later)))).bands).toEqual([]);
    expect((await client.bands(Date.parse(later))).bands).toEqual([]);
  });

  test("the positive flow: verify -> certificate (with logmac) -> publish 14 keys -> upload the log", async () => {
    const bodies: { url: string; bytes: number; headers: Record<string, string> }[] = [];
    const recording: typeof fetch = (input, init) => {
      bodies.push({
        url: String(input),
        bytes: init?.body ? Buffer.byteLength(init.body as string | Buffer) : 0,
        headers: { ...(init?.headers as Record<string, string>) },
      });
      return fetch(input, init);
    };
    const client = new AuthorityClient(t.url + "/", t.kioskKey, { fetch: recording, timeoutMs: 10_000 });
    const code = await issueCode(t);
    const tlx = positiveLog(band);
    const { state, result: r } = await positive(client, { code, teks, tlx });
    expect(state).toBe("done");
    expect(r).toMatchObject({ testType: "confirmed", keys: 14, insertedExposures: 14, logDuplicate: false });
    expect(r.alreadyStored).toBeUndefined();
    expect(r.logId).toEqual(expect.any(Number));
    expect(r.paddingBytes).toBeGreaterThan(1000);
    expect(await t.store.getExposures(teks.map((k) => k.bytes))).toHaveLength(14);
    const log = await call(t, "GET", "/api/band-logs/" + r.logId, { key: t.adminKey });
    expect(log.json).toMatchObject({ bandId: band.toString("hex"), records: 1 });

    expect(bodies.map((b) => new URL(b.url).pathname)).toEqual([
      "/api/verify",
      "/api/certificate",
      "/v1/publish",
      "/v1/band-logs",
    ]);
    const publish = bodies[2];
    expect(publish.bytes).toBeGreaterThanOrEqual(PUBLISH_BODY_TARGET - 4);
    expect(publish.bytes).toBeLessThanOrEqual(PUBLISH_BODY_TARGET + PUBLISH_BODY_JITTER + 4);
    expect(publish.headers["x-api-key"]).toBeUndefined(); // the certificate authorises publish and upload
    const upload = bodies[3].headers;
    expect(upload["content-type"]).toBe("application/octet-stream");
    expect(upload.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(Buffer.from(upload["x-tracelet-hmac-key"], "base64")).toHaveLength(32);
    const sent = JSON.parse(Buffer.from(upload["x-tracelet-keys"], "base64").toString("utf8"));
    expect(sent.map((k: { key: string }) => k.key).sort()).toEqual(teks.map((k) => k.key).sort());
  });

  test("exportIndex, exportFile and signingKey: the published keys in a signed export", async () => {
    const client = new AuthorityClient(t.url, t.kioskKey);
    t.clock.ms += 3600_000; // the window holding the keys closes
    const names = await client.exportIndex();
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^v1\/exports\/\d+-\d+-00001\.zip$/);
    const zip = await client.exportFile(names[0]);
    expect(zip.equals(await client.exportFile(names[0].replace("v1/exports/", "")))).toBe(true);
    const files = await unzipExport(zip);
    if (!files.ok) throw new Error(files.error);
    const sigs = decodeSignatureList(files.value.sig);
    if (!sigs.ok) throw new Error(sigs.error);
    const key = await client.signingKey();
    expect(verifyExportSignature(files.value.bin, sigs.value[0].signature!, key)).toBe(true);
    const bin = decodeExportBin(files.value.bin);
    if (!bin.ok) throw new Error(bin.error);
    const got = new Set(bin.value.keys.map((k) => Buffer.from(k.key_data).toString("hex")));
    for (const k of teks) expect(got.has(k.bytes.toString("hex"))).toBe(true);
    await expect(client.exportFile("../../api/stats")).rejects.toThrow(RangeError);
  });
});

describe("AuthorityClient details", () => {
  let t: TestAuthority;
  beforeAll(async () => {
    t = await startTestAuthority({ rateLimits: { enabled: false } });
  });
  afterAll(async () => {
    await t.close();
  });

  test("publish pads every body into the same size range, whatever the key count", async () => {
    const sizes: number[] = [];
    const paddings = new Set<string>();
    const recording: typeof fetch = (input, init) => {
      if (String(input).endsWith("/v1/publish")) {
        sizes.push(Buffer.byteLength(init!.body as string));
        paddings.add(JSON.parse(init!.body as string).padding);
      }
      return fetch(input, init);
    };
    const client = new AuthorityClient(t.url, t.kioskKey, { fetch: recording });
    for (const n of [1, 7, 14, 21]) {
      const keys = makeKeys(n);
      const hmacKey = randomBytes(32);
      const v = await client.verifyCode(await issueCode(t));
      expect(v.testType).toBe("confirmed");
      const cert = await client.certificate(v.token, AuthorityClient.computeEkeyhmac(keys, hmacKey));
      expect(AuthorityClient.computeEkeyhmac(keys, hmacKey)).toEqual(computeTekmac(keys, hmacKey));
      const p = await client.publish(keys, cert.certificate, hmacKey);
      expect(p).toMatchObject({ keyCount: n, insertedExposures: n });
      expect(p.bodyBytes).toBe(sizes[sizes.length - 1]);
    }
    for (const s of sizes) {
      expect(s).toBeGreaterThanOrEqual(PUBLISH_BODY_TARGET - 4);
      expect(s).toBeLessThanOrEqual(PUBLISH_BODY_TARGET + PUBLISH_BODY_JITTER + 4);
    }
    expect(paddings.size).toBe(4);
    for (const p of paddings) expect(Buffer.from(p, "base64").toString("base64")).toBe(p);
  });

  test("a retried publish whose first answer was lost (409 certificate_used) counts as stored", async () => {
    const band = randomBytes(8);
    await registerBand(t, band, false);
    let lost = 0;
    const losing: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (String(input).endsWith("/v1/publish") && lost === 0) {
        lost++;
        await res.arrayBuffer();
        throw new TypeError("fetch failed", { cause: { code: "ECONNRESET" } });
      }
      return res;
    };
    const client = new AuthorityClient(t.url, t.kioskKey, { fetch: losing });
    const teks = makeKeys(14);
    // The lost answer is a retryable failure; the queue sends the publish again (here at once).
    const { state, result: r } = await positive(client, { code: await issueCode(t), teks, tlx: positiveLog(band) }, 3);
    expect(state).toBe("done");
    expect(lost).toBe(1);
    expect(r).toMatchObject({ alreadyStored: true, keys: 14, logDuplicate: false });
    expect(r.logId).toEqual(expect.any(Number));
    expect(await t.store.getExposures(teks.map((k) => k.bytes))).toHaveLength(14);
  });

  test("a log upload refused after the publish: the job is done with its keys published and the log's refusal", async () => {
    const unregistered = randomBytes(8);
    const client = new AuthorityClient(t.url, t.kioskKey);
    const teks = makeKeys(2);
    const { state, result: r } = await positive(client, {
      code: await issueCode(t),
      teks,
      tlx: positiveLog(unregistered),
    });
    expect(state).toBe("done");
    expect(r).toMatchObject({ keys: 2, insertedExposures: 2 });
    expect(r.logId).toBeUndefined();
    expect(r.logError).toMatch(/403 unknown_band/);
    expect(r.logError).toContain(unregistered.toString("hex")); // band ids are not secret
  });

  test("a wrong code is code_invalid, not retryable, and the message holds neither code nor key", async () => {
    const client = new AuthorityClient(t.url, t.kioskKey);
    const e = await failure(client.verifyCode("12345678"));
    expect(e).toMatchObject({ status: 400, code: "code_invalid", retryable: false });
    expect(e.message).toMatch(/^POST \/api\/verify: 400 code_invalid: /);
    expectNoSecrets(e, ["12345678", t.kioskKey]);
    const viaFlow = await positive(client, { code: "87654321", teks: makeKeys(2) });
    // The job keeps its keys and waits for a new code.
    expect(viaFlow.state).toBe("needs_code");
    expect(viaFlow.error).toMatch(/code_invalid/);
    for (const secret of ["87654321", t.kioskKey]) expect(viaFlow.error).not.toContain(secret);
  });

  test("a negative test's code is refused (unsupported_test_type): the job fails with that reason", async () => {
    const client = new AuthorityClient(t.url, t.kioskKey);
    const e = await failure(client.verifyCode(await issueCode(t, "negative"), ["confirmed", "likely"]));
    expect(e).toMatchObject({ status: 412, code: "unsupported_test_type", retryable: false });
    const viaFlow = await positive(client, { code: await issueCode(t, "negative"), teks: makeKeys(2) });
    expect(viaFlow.state).toBe("failed");
    expect(viaFlow.error).toMatch(/412 unsupported_test_type/);
  });

  test("used tokens, bad certificates and wrong API keys: 4xx, not retryable, nothing secret in the message", async () => {
    const client = new AuthorityClient(t.url, t.kioskKey);
    const keys = makeKeys(3);
    const hmacKey = randomBytes(32);
    const v = await client.verifyCode(await issueCode(t));
    const ekeyhmac = computeTekmac(keys, hmacKey);
    const cert = await client.certificate(v.token, ekeyhmac);
    const reused = await failure(client.certificate(v.token, ekeyhmac));
    expect(reused).toMatchObject({ status: 400, code: "token_invalid", retryable: false });
    expectNoSecrets(reused, [v.token, ekeyhmac.toString("base64"), t.kioskKey]);

    const otherKeys = makeKeys(3);
    const mismatch = await failure(client.publish(otherKeys, cert.certificate, hmacKey));
    expect(mismatch).toMatchObject({ status: 401, retryable: false });
    expectNoSecrets(mismatch, [cert.certificate, hmacKey.toString("base64"), ...otherKeys.map((k) => k.key)]);

    const forged = cert.certificate.slice(0, -4) + "AAAA";
    const bad = await failure(client.publish(keys, forged, hmacKey));
    expect(bad).toMatchObject({ status: 401, code: "health_authority_verification_certificate_invalid" });
    expectNoSecrets(bad, [forged, cert.certificate]);

    const wrongKey = "wrong-kiosk-key-" + randomBytes(12).toString("hex");
    const unauthorised = await failure(new AuthorityClient(t.url, wrongKey).bands());
    expect(unauthorised).toMatchObject({ status: 401, code: "unauthorized", retryable: false });
    expectNoSecrets(unauthorised, [wrongKey]);
    const flasher = await failure(new AuthorityClient(t.url, t.flasherKey).bands());
    expect(flasher).toMatchObject({ status: 403, code: "forbidden", retryable: false });
    expectNoSecrets(flasher, [t.flasherKey]);
  });

  test("a server that echoed secrets would still not get them into the message", async () => {
    const certificate = "eyJhbGciOiJFUzI1NiJ9.eyJ0ZWttYWMiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
    const hmacKey = randomBytes(32);
    const keys = makeKeys(2);
    const echo: typeof fetch = async (_input, init) =>
      new Response(JSON.stringify({ error: `you sent ${init?.body} with ${t.kioskKey}`, code: "bad_request" }), {
        status: 400,
        headers: { "content-type": "application/json" },
      });
    const client = new AuthorityClient(t.url, t.kioskKey, { fetch: echo });
    const e = await failure(client.publish(keys, certificate, hmacKey));
    expect(e).toMatchObject({ status: 400, code: "bad_request", retryable: false });
    expectNoSecrets(e, [certificate, hmacKey.toString("base64"), t.kioskKey, ...keys.map((k) => k.key)]);
    const v = await failure(client.verifyCode("24681357"));
    expectNoSecrets(v, ["24681357", t.kioskKey]);
  });

  test("a stopped server, a timeout, 5xx and 429 are retryable", async () => {
    const gone = await startTestAuthority();
    const url = gone.url;
    await gone.close();
    const stopped = await failure(new AuthorityClient(url, t.kioskKey).bands());
    expect(stopped).toMatchObject({ status: 0, code: "network_error", retryable: true });
    expect(stopped.message).toMatch(/^GET \/api\/kiosk\/bands: cannot reach the authority \(ECONNREFUSED\)$/);
    expectNoSecrets(stopped, [t.kioskKey]);

    const hanging: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal!.reason)));
    const slow = await failure(new AuthorityClient(t.url, t.kioskKey, { fetch: hanging, timeoutMs: 50 }).bands());
    expect(slow).toMatchObject({ status: 0, code: "timeout", retryable: true });

    const unavailable: typeof fetch = async () =>
      new Response(JSON.stringify({ error: "internal error", code: "internal_error" }), {
        status: 503,
        headers: { "content-type": "application/json", "retry-after": "7" },
      });
    const down = await failure(new AuthorityClient(t.url, t.kioskKey, { fetch: unavailable }).exportIndex());
    expect(down).toMatchObject({ status: 503, code: "internal_error", retryable: true, retryAfterMs: 7000 });

    const limited = await startTestAuthority({ rateLimits: { verifyPerMinute: 1 } });
    try {
      const client = new AuthorityClient(limited.url, limited.kioskKey);
      await failure(client.verifyCode("11111111"));
      const e = await failure(client.verifyCode("22222222"));
      expect(e).toMatchObject({ status: 429, code: "rate_limited", retryable: true });
      expect(e.retryAfterMs).toBeGreaterThan(0);
      expectNoSecrets(e, ["22222222", limited.kioskKey]);
    } finally {
      await limited.close();
    }
  });

  test("malformed answers and bad arguments are clear errors", async () => {
    const notJson: typeof fetch = async () => new Response("<html>", { status: 200 });
    const e = await failure(new AuthorityClient(t.url, t.kioskKey, { fetch: notJson }).bands());
    expect(e).toMatchObject({ code: "bad_response", retryable: false });
    const client = new AuthorityClient(t.url, t.kioskKey);
    await expect(client.publish([], "c", randomBytes(32))).rejects.toThrow(/1 to 21 diagnosis keys/);
    await expect(
      client.publish([{ key: randomBytes(15), rollingStartNumber: 1, rollingPeriod: 144 }], "c", randomBytes(32)),
    ).rejects.toThrow(/diagnosis key 0: must be 16 bytes/);
    await expect(client.publish(makeKeys(1), "c", randomBytes(8))).rejects.toThrow(/hmacKey must be 16 to 128 bytes/);
    expect(() => new AuthorityClient("ftp://x", "k")).toThrow(/http: or https:/);
    expect(() => new AuthorityClient("http://user:pw@127.0.0.1", "k")).toThrow(/credentials/);
    expect(() => new AuthorityClient(t.url, "")).toThrow(/kiosk API key/);
  });
});

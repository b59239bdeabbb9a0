import { generateKeyPairSync, randomBytes } from "crypto";
import { crc8, RECORD_ID_BYTES } from "../../firmware/src/protocol/record";
import { signJwt } from "../../host-tools/src/authority/crypto/jwt";
import { computeLogmac, computeTekmac } from "../../host-tools/src/authority/crypto/tekmac";
import {
  bandKeys,
  call,
  certify,
  DAY0,
  T0,
  logBytes,
  makeKeys,
  publishBody,
  registerBand,
  startTestAuthority,
  TestAuthority,
  uploadLog,
} from "./helpers";
import { describeEachBackend, testDb } from "../postgres";

/** Bad input of every kind gets a clear 4xx JSON answer and changes nothing. */
describeEachBackend("authority hostile input", (backend) => {
  let t: TestAuthority;

  beforeAll(async () => {
    t = await startTestAuthority({ deployment: "escrow", rateLimits: { enabled: false } }, testDb(backend));
  });
  afterAll(async () => {
    await t.close();
  });

  async function validPublish() {
    const keys = makeKeys(2);
    const c = await certify(t, keys);
    return { keys, ...c, body: publishBody(keys, c.certificate, c.hmacKey) };
  }

  describe("publish body validation", () => {
    const cases: [string, (b: Record<string, unknown>) => unknown, string][] = [
      ["keys is not an array", (b) => ({ ...b, temporaryExposureKeys: "all of them" }), "temporaryExposureKeys"],
      ["no keys", (b) => ({ ...b, temporaryExposureKeys: [] }), "temporaryExposureKeys"],
      [
        "22 keys",
        (b) => ({
          ...b,
          temporaryExposureKeys: Array.from({ length: 22 }, () => (b.temporaryExposureKeys as unknown[])[0]),
        }),
        "temporaryExposureKeys",
      ],
      [
        "key is a number",
        (b) => ({ ...b, temporaryExposureKeys: [{ key: 12345, rollingStartNumber: 1, rollingPeriod: 144 }] }),
        "temporaryExposureKeys.0.key",
      ],
      [
        "key is 15 bytes",
        (b) => ({
          ...b,
          temporaryExposureKeys: [
            { key: randomBytes(15).toString("base64"), rollingStartNumber: DAY0 * 144 - 144, rollingPeriod: 144 },
          ],
        }),
        "temporaryExposureKeys.0.key",
      ],
      [
        "key is not base64",
        (b) => ({
          ...b,
          temporaryExposureKeys: [{ key: "!!!!!!!!!!!!!!!!!!!!!!==", rollingStartNumber: 1, rollingPeriod: 144 }],
        }),
        "temporaryExposureKeys.0.key",
      ],
      [
        "rollingStartNumber is a string",
        (b) => ({
          ...b,
          temporaryExposureKeys: [
            { key: randomBytes(16).toString("base64"), rollingStartNumber: "2650032", rollingPeriod: 144 },
          ],
        }),
        "rollingStartNumber",
      ],
      [
        "rollingPeriod 145",
        (b) => ({
          ...b,
          temporaryExposureKeys: [
            { key: randomBytes(16).toString("base64"), rollingStartNumber: 144, rollingPeriod: 145 },
          ],
        }),
        "rollingPeriod",
      ],
      [
        "rollingPeriod 0",
        (b) => ({
          ...b,
          temporaryExposureKeys: [
            { key: randomBytes(16).toString("base64"), rollingStartNumber: 144, rollingPeriod: 0 },
          ],
        }),
        "rollingPeriod",
      ],
      [
        "transmissionRisk 9",
        (b) => ({
          ...b,
          temporaryExposureKeys: [
            {
              key: randomBytes(16).toString("base64"),
              rollingStartNumber: 144,
              rollingPeriod: 144,
              transmissionRisk: 9,
            },
          ],
        }),
        "transmissionRisk",
      ],
      ["fractional symptomOnsetInterval", (b) => ({ ...b, symptomOnsetInterval: 1.5 }), "symptomOnsetInterval"],
      ["negative symptomOnsetInterval", (b) => ({ ...b, symptomOnsetInterval: -144 }), "symptomOnsetInterval"],
      ["traveler is a string", (b) => ({ ...b, traveler: "yes" }), "traveler"],
      ["hmacKey missing", (b) => ({ ...b, hmacKey: undefined }), "hmacKey"],
      ["body is an array", () => [1, 2, 3], ""],
      ["body is null", () => null, ""],
    ];
    test.each(cases)("%s -> 400", async (_name, mutate, path) => {
      const v = await validPublish();
      const r = await call(t, "POST", "/v1/publish", { json: mutate(v.body) });
      expect(r.status).toBe(400);
      expect(r.json.code).toBe("bad_request");
      expect(typeof r.json.error).toBe("string");
      if (path) expect(r.json.error).toContain(path);
    });

    test("publish rules of the reference server: same-day keys, unaligned starts, overlaps, future keys", async () => {
      const today = DAY0 * 144;
      const key = (rollingStartNumber: number, rollingPeriod = 144) => ({
        key: randomBytes(16).toString("base64"),
        rollingStartNumber,
        rollingPeriod,
        bytes: Buffer.alloc(0),
      });
      const twice = key(today - 144);
      const refused: [string, ReturnType<typeof key>[], string][] = [
        ["only a future key", [key(today + 144)], "future"],
        ["four keys with one rolling start", [0, 1, 2, 3].map(() => key(today - 144, 100)), "same day"],
        ["overlapping keys", [key(today - 288), key(today - 200)], "overlap"],
        ["the same key twice", [twice, twice], "twice"],
      ];
      for (const [, keys, msg] of refused) {
        // A correctly certified request, so the rule (not the MAC) is what refuses it.
        const c = await certify(t, keys);
        const r = await call(t, "POST", "/v1/publish", { json: publishBody(keys, c.certificate, c.hmacKey) });
        expect(r.status).toBe(400);
        expect(r.json.code).toBe("bad_request");
        expect(r.json.error).toContain(msg);
      }
      expect((await t.store.counts()).exposures).toBe(0);
      // What phones send: today's key ended early plus its successor (same rolling start), a key whose start
      // is not midnight (Google's example export has two), and one key in the future, which alone is dropped.
      const sameDay = [key(today, 30), key(today, 144)];
      const unaligned = key(today - 244, 100);
      const future = key(today + 144);
      const keys = [...sameDay, unaligned, key(today - 388), future];
      const c = await certify(t, keys);
      const r = await call(t, "POST", "/v1/publish", { json: publishBody(keys, c.certificate, c.hmacKey) });
      expect(r.status).toBe(200);
      expect(r.json.insertedExposures).toBe(4);
      expect(r.json.warnings.join(" ")).toContain("future");
      expect((await t.store.counts()).exposures).toBe(4);
      const stored = await t.store.getExposures(keys.map((k) => Buffer.from(k.key, "base64")));
      expect(stored.map((e) => e.rollingStart).sort()).toEqual([today - 388, today - 244, today, today].sort());
      // Embargo: a key is exported 2 h after its validity ended, never earlier.
      const live = stored.find((e) => e.rollingStart === today && e.rollingPeriod === 144)!;
      expect(live.releaseAt).toBe((today + 144) * 600 + 7200);
      const ended = stored.find((e) => e.rollingStart === today && e.rollingPeriod === 30)!;
      expect(ended.releaseAt).toBe(T0 / 1000); // ended at 05:00, so 07:00 < now (12:00)
      const old = stored.find((e) => e.rollingStart === today - 388)!;
      expect(old.releaseAt).toBe(T0 / 1000);
    });
  });

  test("SQL-looking strings are data, not SQL", async () => {
    const sql = "x'); DROP TABLE exposures; --";
    const v = await validPublish();
    const r1 = await call(t, "POST", "/v1/publish", { json: { ...v.body, healthAuthorityID: sql } });
    expect(r1.status).toBe(401);
    expect(r1.json.code).toBe("unknown_health_authority_id");
    const r2 = await call(t, "POST", "/api/verify", { key: t.kioskKey, json: { code: "1' OR '1'='1" } });
    expect(r2.status).toBe(400);
    expect(r2.json.errorCode).toBe("code_invalid");
    const r3 = await call(t, "POST", "/api/bands", {
      key: t.adminKey,
      json: { bandId: "0011223344556677", board: sql },
    });
    expect(r3.status).toBe(400);
    const r4 = await call(t, "GET", "/api/bands/" + encodeURIComponent("' OR 1=1 --"), { key: t.adminKey });
    expect(r4.status).toBe(404);
    const r5 = await call(t, "GET", "/api/contacts?status=" + encodeURIComponent("new' OR '1'='1"), {
      key: t.adminKey,
    });
    expect(r5.status).toBe(400);
    // The tables are intact and the valid request still works.
    const ok = await call(t, "POST", "/v1/publish", { json: v.body });
    expect(ok.status).toBe(200);
  });

  test("codes and tokens are single use", async () => {
    const issue = await call(t, "POST", "/api/issue", { key: t.adminKey, json: { testType: "confirmed" } });
    expect(issue.json.code).toMatch(/^\d{8}$/);
    const first = await call(t, "POST", "/api/verify", { key: t.kioskKey, json: { code: issue.json.code } });
    expect(first.status).toBe(200);
    const again = await call(t, "POST", "/api/verify", { key: t.kioskKey, json: { code: issue.json.code } });
    expect(again.status).toBe(400);
    expect(again.json.errorCode).toBe("code_invalid");
    const mac = computeTekmac(makeKeys(1), randomBytes(32)).toString("base64");
    const c1 = await call(t, "POST", "/api/certificate", {
      key: t.kioskKey,
      json: { token: first.json.token, ekeyhmac: mac },
    });
    expect(c1.status).toBe(200);
    const c2 = await call(t, "POST", "/api/certificate", {
      key: t.kioskKey,
      json: { token: first.json.token, ekeyhmac: mac },
    });
    expect(c2.status).toBe(400);
    expect(c2.json.errorCode).toBe("token_invalid");
  });

  test("expired codes are refused", async () => {
    const issue = await call(t, "POST", "/api/issue", { key: t.adminKey, json: {} });
    t.clock.ms += 61 * 60 * 1000;
    try {
      const r = await call(t, "POST", "/api/verify", { key: t.kioskKey, json: { code: issue.json.code } });
      expect(r.status).toBe(400);
      expect(r.json.errorCode).toBe("code_expired");
    } finally {
      t.clock.ms -= 61 * 60 * 1000;
    }
  });

  test("a replayed certificate publishes nothing", async () => {
    const v = await validPublish();
    expect((await call(t, "POST", "/v1/publish", { json: v.body })).status).toBe(200);
    const replay = await call(t, "POST", "/v1/publish", { json: { ...v.body, padding: "different" } });
    expect(replay.status).toBe(409);
    expect(replay.json.code).toBe("certificate_used");
  });

  test("a certificate for other keys is refused", async () => {
    const v = await validPublish();
    const other = makeKeys(2);
    const r = await call(t, "POST", "/v1/publish", { json: publishBody(other, v.certificate, v.hmacKey) });
    expect(r.status).toBe(401);
    expect(r.json.code).toBe("health_authority_verification_certificate_invalid");
    // Changing only a key's metadata breaks the MAC too.
    const shifted = v.keys.map((k, i) => (i === 0 ? { ...k, transmissionRisk: 5 } : k));
    const r2 = await call(t, "POST", "/v1/publish", { json: publishBody(shifted, v.certificate, v.hmacKey) });
    expect(r2.status).toBe(401);
    // And a different hmacKey.
    const r3 = await call(t, "POST", "/v1/publish", {
      json: { ...v.body, hmacKey: randomBytes(32).toString("base64") },
    });
    expect(r3.status).toBe(401);
    expect(await t.store.getExposures(other.map((k) => k.bytes))).toHaveLength(0);
  });

  test("forged, unsigned, tampered and expired certificates are refused", async () => {
    const v = await validPublish();
    const claims = JSON.parse(Buffer.from(v.certificate.split(".")[1], "base64url").toString());
    const foreign = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    const forged = await signJwt(claims, foreign, "v1");
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const none = b64({ alg: "none", typ: "JWT" }) + "." + b64(claims) + ".";
    const hs = b64({ alg: "HS256", typ: "JWT" }) + "." + b64(claims) + "." + randomBytes(32).toString("base64url");
    const [h, , s] = v.certificate.split(".");
    const tampered = h + "." + b64({ ...claims, reportType: "likely" }) + "." + s;
    for (const cert of [forged, none, hs, tampered, "not.a.jwt", "x".repeat(5000)]) {
      const r = await call(t, "POST", "/v1/publish", { json: { ...v.body, verificationPayload: cert } });
      expect([400, 401]).toContain(r.status);
    }
    t.clock.ms += 17 * 60 * 1000; // 15 min lifetime + 1 min leeway
    try {
      const r = await call(t, "POST", "/v1/publish", { json: v.body });
      expect(r.status).toBe(401);
      expect(r.json.error).toContain("expired");
    } finally {
      t.clock.ms -= 17 * 60 * 1000;
    }
    expect(await t.store.getExposures(v.keys.map((k) => k.bytes))).toHaveLength(0);
  });

  test("oversize bodies are refused with 413", async () => {
    const v = await validPublish();
    const huge = { ...v.body, padding: "A".repeat(70 * 1024) };
    const r = await call(t, "POST", "/v1/publish", { json: huge });
    expect(r.status).toBe(413);
    expect(r.json.code).toBe("body_too_large");
    const big = await call(t, "POST", "/api/issue", {
      key: t.adminKey,
      json: { testType: "confirmed", x: "y".repeat(20000) },
    });
    expect(big.status).toBe(413);
    // A huge array is stopped by the size limit before it is parsed.
    const arr = await call(t, "POST", "/v1/publish", {
      json: { ...v.body, temporaryExposureKeys: new Array(100000).fill(0) },
    });
    expect(arr.status).toBe(413);
  });

  test("wrong content type, bad JSON, unknown paths and methods", async () => {
    const r1 = await call(t, "POST", "/v1/publish", { body: "{}", headers: { "content-type": "text/plain" } });
    expect(r1.status).toBe(415);
    const r2 = await call(t, "POST", "/v1/publish", {
      body: "{not json",
      headers: { "content-type": "application/json" },
    });
    expect(r2.status).toBe(400);
    expect(r2.json.code).toBe("bad_json");
    expect((await call(t, "GET", "/v1/nothing")).status).toBe(404);
    expect((await call(t, "GET", "/v1/publish")).status).toBe(405);
    expect((await call(t, "GET", "/v1/exports/..%2F..%2Fetc%2Fpasswd")).status).toBe(404);
  });

  test("API keys: missing, unknown, wrong role", async () => {
    const r1 = await call(t, "POST", "/api/issue", { json: {} });
    expect(r1.status).toBe(401);
    const r2 = await call(t, "POST", "/api/issue", { json: {}, key: "a".repeat(40) });
    expect(r2.status).toBe(401);
    const r3 = await call(t, "POST", "/api/issue", { json: {}, key: t.kioskKey });
    expect(r3.status).toBe(403);
    const r4 = await call(t, "GET", "/api/contacts", { key: t.flasherKey });
    expect(r4.status).toBe(403);
    const r5 = await call(t, "POST", "/api/bands", {
      key: t.kioskKey,
      json: { bandId: "0011223344556677", board: "puckjs" },
    });
    expect(r5.status).toBe(403);
  });

  describe("band logs", () => {
    const band = randomBytes(8);
    const keys1 = bandKeys(band, 1);
    beforeAll(() => registerBand(t, band));
    const good = logBytes(band, [
      {
        header: { seq: 1, baseTime: DAY0 * 86400 - 7200, monotonic: false, bootEpoch: 1 },
        records: [
          {
            kind: 0,
            id: randomBytes(RECORD_ID_BYTES),
            startMinute: 3,
            durationMinutes: 5,
            rssiMean: -60,
            aemTx: 1,
          },
        ],
      },
    ]);
    const withHeader = (f: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      f(b);
      b[15] = crc8(b, 0, 15);
      return b;
    };
    const corrupt: [string, Buffer][] = [
      ["bad magic", Buffer.concat([Buffer.from("XYZ"), good.subarray(3)])],
      ["header checksum", flip(good, 15)],
      ["truncated", good.subarray(0, good.length - 5)],
      ["trailing bytes", Buffer.concat([good, Buffer.alloc(3)])],
      ["empty", Buffer.alloc(0)],
      ["page length lies", withHeader((b) => b.writeUInt16LE(60000, 16))],
      ["page count lies", withHeader((b) => b.writeUInt16LE(1000, 12))],
      ["TLX v2", withHeader((b) => (b[3] = 2))],
    ];
    test.each(corrupt)("%s -> 400 bad_log", async (_name, body) => {
      const c = await certify(t, keys1, { log: body });
      const r = await uploadLog(t, body, c.certificate, c.hmacKey, keys1);
      expect(r.status).toBe(400);
      expect(r.json.code).toBe("bad_log");
    });

    test("a v2 upload is refused naming the version", async () => {
      const v2 = withHeader((b) => (b[3] = 2));
      const c = await certify(t, keys1, { log: v2 });
      const r = await uploadLog(t, v2, c.certificate, c.hmacKey, keys1);
      expect(r.json.error).toContain("unsupported log export version 2");
    });

    test.each([
      ["a record byte", 16 + 2 + 4 + 12 + 3],
      ["the next cursor", good.length - 17],
      ["the MAC", good.length - 1],
    ])("a flipped bit in %s -> 403 bad_log_mac naming page 0", async (_name, at) => {
      const body = flip(good, at);
      const c = await certify(t, keys1, { log: body });
      const r = await uploadLog(t, body, c.certificate, c.hmacKey, keys1);
      expect(r.status).toBe(403);
      expect(r.json).toMatchObject({ code: "bad_log_mac", error: expect.stringContaining("page 0") });
    });

    test("a log the certificate does not cover is refused", async () => {
      const c = await certify(t, keys1, { log: good });
      const other = flip(good, 20);
      const r = await uploadLog(t, other, c.certificate, c.hmacKey, keys1);
      expect(r.status).toBe(403);
      expect(r.json.code).toBe("logmac_mismatch");
      const noLog = await certify(t, keys1);
      const r2 = await uploadLog(t, good, noLog.certificate, noLog.hmacKey, keys1);
      expect(r2.status).toBe(403);
      const r3 = await call(t, "POST", "/v1/band-logs", {
        body: good,
        headers: { "content-type": "application/octet-stream" },
      });
      expect(r3.status).toBe(401);
      const r4 = await uploadLog(t, good, c.certificate, randomBytes(32), keys1);
      expect(r4.status).toBe(403);
    });

    test("the same log twice is stored once; a used certificate cannot carry another log", async () => {
      const before = (await t.store.counts()).bandLogs;
      const c1 = await certify(t, keys1, { log: good });
      const r1 = await uploadLog(t, good, c1.certificate, c1.hmacKey, keys1);
      expect(r1.status).toBe(201);
      const c2 = await certify(t, keys1, { log: good });
      const r2 = await uploadLog(t, good, c2.certificate, c2.hmacKey, keys1);
      expect(r2.status).toBe(200);
      expect(r2.json).toMatchObject({ duplicate: true, logId: r1.json.logId });
      expect((await t.store.counts()).bandLogs).toBe(before + 1);
      // The logmac binds c1 to that one log: it cannot carry any other.
      const other = logBytes(band, []);
      const r3 = await uploadLog(t, other, c1.certificate, c1.hmacKey, keys1);
      expect(r3.status).toBe(403);
    });

    test("oversize logs are refused with 413", async () => {
      const small = await startTestAuthority(
        { limits: { bandLogBytes: 2048 }, rateLimits: { enabled: false } },
        testDb(backend),
      );
      try {
        const big = Buffer.alloc(4096);
        const r = await call(small, "POST", "/v1/band-logs", {
          body: big,
          headers: { "content-type": "application/octet-stream" },
        });
        expect(r.status).toBe(413);
      } finally {
        await small.close();
      }
    });
  });

  test("revisions need the revision token of the first publish", async () => {
    const keys = makeKeys(2);
    const c1 = await certify(t, keys, { testType: "likely" });
    const p1 = await call(t, "POST", "/v1/publish", { json: publishBody(keys, c1.certificate, c1.hmacKey) });
    expect(p1.status).toBe(200);
    const c2 = await certify(t, keys, { testType: "confirmed" });
    const noToken = await call(t, "POST", "/v1/publish", { json: publishBody(keys, c2.certificate, c2.hmacKey) });
    expect(noToken.status).toBe(400);
    expect(noToken.json.code).toBe("missing_revision_token");
    const c3 = await certify(t, keys, { testType: "confirmed" });
    const badToken = await call(t, "POST", "/v1/publish", {
      json: publishBody(keys, c3.certificate, c3.hmacKey, { revisionToken: randomBytes(80).toString("base64") }),
    });
    expect(badToken.status).toBe(400);
    expect(badToken.json.code).toBe("invalid_revision_token");
    const c4 = await certify(t, keys, { testType: "confirmed" });
    const revised = await call(t, "POST", "/v1/publish", {
      json: publishBody(keys, c4.certificate, c4.hmacKey, { revisionToken: p1.json.revisionToken }),
    });
    expect(revised.status).toBe(200);
    expect(revised.json).toMatchObject({ insertedExposures: 0, revisedExposures: 2 });
    const rows = await t.store.getExposures(keys.map((k) => k.bytes));
    expect(rows.map((r) => [r.reportType, r.revisedReportType])).toEqual([
      ["likely", "confirmed"],
      ["likely", "confirmed"],
    ]);
  });

  test("a negative certificate cannot upload a band log", async () => {
    const body = logBytes(randomBytes(8), []);
    const c = await certify(t, makeKeys(1), { log: body, testType: "negative" });
    const r = await uploadLog(t, body, c.certificate, c.hmacKey);
    expect(r.status).toBe(403);
  });

  test("band registration: bad ids, unknown boards, conflicting secrets", async () => {
    const id = randomBytes(8).toString("hex");
    const bad: Record<string, unknown>[] = [
      { bandId: "xyz", board: "puckjs" },
      { bandId: id, board: "nosuchboard" },
      { bandId: id, board: "puckjs", escrowSecret: "00" },
      { bandId: id, board: "puckjs", escrowSecret: 42 },
    ];
    for (const b of bad) expect((await call(t, "POST", "/api/bands", { key: t.flasherKey, json: b })).status).toBe(400);
    const s1 = randomBytes(16).toString("hex");
    const syncKey = randomBytes(16).toString("hex");
    expect(
      (
        await call(t, "POST", "/api/bands", {
          key: t.flasherKey,
          json: { bandId: id, board: "puckjs", escrowSecret: s1, syncKey },
        })
      ).status,
    ).toBe(201);
    const s2 = randomBytes(16).toString("hex");
    const conflict = await call(t, "POST", "/api/bands", {
      key: t.flasherKey,
      json: { bandId: id, board: "puckjs", escrowSecret: s2, syncKey },
    });
    expect(conflict.status).toBe(409);
    const replaced = await call(t, "POST", "/api/bands", {
      key: t.flasherKey,
      json: { bandId: id, board: "puckjs", escrowSecret: s2, syncKey, replace: true },
    });
    expect(replaced.json.status).toBe("replaced");
    expect((await call(t, "DELETE", "/api/bands/" + id, { key: t.flasherKey })).status).toBe(403);
    expect((await call(t, "DELETE", "/api/bands/" + id, { key: t.adminKey })).status).toBe(200);
    expect((await call(t, "GET", "/api/bands/" + id, { key: t.adminKey })).status).toBe(404);
  });
});

describeEachBackend("authority limits and deployments", (backend) => {
  test("verification is rate limited per client", async () => {
    const t = await startTestAuthority({ rateLimits: { verifyPerMinute: 5 } }, testDb(backend));
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        statuses.push(
          (await call(t, "POST", "/api/verify", { key: t.kioskKey, json: { code: String(10000000 + i) } })).status,
        );
      }
      expect(statuses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
      expect(statuses.slice(5)).toEqual([429, 429, 429]);
      const r = await call(t, "POST", "/api/verify", { key: t.kioskKey, json: { code: "1" } });
      expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
      t.clock.ms += 60_000; // tokens refill
      expect((await call(t, "POST", "/api/verify", { key: t.kioskKey, json: { code: "1" } })).status).toBe(400);
    } finally {
      await t.close();
    }
  });

  test("the private deployment refuses escrow secrets and has no F1 worklist", async () => {
    const t = await startTestAuthority({ deployment: "private" }, testDb(backend));
    try {
      const r = await call(t, "POST", "/api/bands", {
        key: t.flasherKey,
        json: {
          bandId: randomBytes(8).toString("hex"),
          board: "puckjs",
          escrowSecret: randomBytes(16).toString("hex"),
        },
      });
      expect(r.status).toBe(400);
      expect(r.json.code).toBe("escrow_disabled");
      const ok = await call(t, "POST", "/api/bands", {
        key: t.flasherKey,
        json: { bandId: randomBytes(8).toString("hex"), board: "puckjs", syncKey: randomBytes(16).toString("hex") },
      });
      expect(ok.status).toBe(201);
      expect((await call(t, "GET", "/api/contacts", { key: t.adminKey })).status).toBe(404);
      const band = randomBytes(8);
      await registerBand(t, band, false);
      const body = logBytes(band, []);
      const c = await certify(t, makeKeys(1), { log: body });
      const up = await uploadLog(t, body, c.certificate, c.hmacKey);
      expect(up.status).toBe(201);
      expect(up.json.resolution).toBe("off");
    } finally {
      await t.close();
    }
  });

  test("logmac and tekmac are distinct messages", () => {
    const k = randomBytes(32);
    expect(computeLogmac(Buffer.alloc(0), k).equals(computeTekmac([], k))).toBe(false);
  });
});

function flip(b: Buffer, i: number): Buffer {
  const c = Buffer.from(b);
  c[i] ^= 0x55;
  return c;
}

import { createPublicKey, randomBytes } from "crypto";
import { pureCrypto } from "../../firmware/src/protocol/crypto";
import { escrowTek } from "../../firmware/src/protocol/escrow";
import { KIND_BLUEZONE, KIND_EN } from "../../firmware/src/protocol/record";
import {
  decodeExportBin,
  decodeSignatureList,
  SIGNATURE_ALGORITHM,
  unzipExport,
  verifyExportSignature,
} from "../../host-tools/src/authority/export/export-file";
import {
  call,
  certify,
  DAY0,
  logBytes,
  publishBody,
  sightingOf,
  startTestAuthority,
  TestAuthority,
  TestKey,
  uploadLog,
} from "./helpers";
import { describeEachBackend, testDb } from "../postgres";

/**
 * The scripted flow of issue 5 against a server on loopback: register bands, issue a code, verify it, get a
 * certificate, publish the positive band's keys, upload its log, resolve F1 contacts, and download and verify
 * the export.
 */
describeEachBackend("authority end-to-end flow (escrow deployment)", (backend) => {
  let t: TestAuthority;
  const bandF0 = randomBytes(8);
  const secrets = { F0: randomBytes(16), A: randomBytes(16), B: randomBytes(16), C: randomBytes(16) };
  const syncKeys = { F0: randomBytes(16), A: randomBytes(16), B: randomBytes(16), C: randomBytes(16) };
  const ids = {
    F0: bandF0.toString("hex"),
    A: randomBytes(8).toString("hex"),
    B: randomBytes(8).toString("hex"),
    C: randomBytes(8).toString("hex"),
  };
  let keys: TestKey[];
  let log: Buffer;
  let cert: Awaited<ReturnType<typeof certify>>;
  let logId: number;

  beforeAll(async () => {
    t = await startTestAuthority({ deployment: "escrow", rateLimits: { enabled: false } }, testDb(backend));
  });
  afterAll(async () => {
    await t.close();
  });

  test("the flasher registers bands; secrets are sealed at rest", async () => {
    for (const name of ["F0", "A", "B", "C"] as const) {
      const r = await call(t, "POST", "/api/bands", {
        key: t.flasherKey,
        json: {
          bandId: ids[name],
          board: "puckjs",
          escrowSecret: secrets[name].toString("hex"),
          syncKey: syncKeys[name].toString("hex"),
        },
      });
      expect(r.status).toBe(201);
      expect(r.json).toMatchObject({ status: "created", bandId: ids[name], escrow: true });
    }
    const again = await call(t, "POST", "/api/bands", {
      key: t.flasherKey,
      json: {
        bandId: ids.A,
        board: "puckjs",
        escrowSecret: secrets.A.toString("hex"),
        syncKey: syncKeys.A.toString("hex"),
      },
    });
    expect(again.status).toBe(200);
    expect(again.json.status).toBe("unchanged");
    const row = await t.store.getBand(ids.A);
    expect(row!.secretSealed!.includes(secrets.A)).toBe(false);
    const view = await call(t, "GET", "/api/bands/" + ids.A, { key: t.adminKey });
    expect(view.json).toEqual(expect.objectContaining({ bandId: ids.A, board: "puckjs", escrow: true }));
    expect(JSON.stringify(view.json)).not.toContain(secrets.A.toString("hex"));
  });

  test("code -> token -> certificate -> publish the positive band's escrow keys", async () => {
    // An escrow band's TEKs are derived from its secret: these are exactly what its kiosk reads out.
    keys = [1, 2, 3].map((d) => {
      const bytes = Buffer.from(escrowTek(pureCrypto, secrets.F0, DAY0 - d));
      return {
        bytes,
        key: bytes.toString("base64"),
        rollingStartNumber: (DAY0 - d) * 144,
        rollingPeriod: 144,
        transmissionRisk: 0,
      };
    });
    log = buildLog();
    cert = await certify(t, keys, { log, symptomDate: isoDay(DAY0 - 3) });
    const claims = JSON.parse(Buffer.from(cert.certificate.split(".")[1], "base64url").toString());
    expect(claims).toMatchObject({ iss: "tracelet-authority", aud: "tracelet-keyserver", reportType: "confirmed" });
    expect(claims.symptomOnsetInterval).toBe((DAY0 - 3) * 144);
    const r = await call(t, "POST", "/v1/publish", { json: publishBody(keys, cert.certificate, cert.hmacKey) });
    expect(r.status).toBe(200);
    expect(r.json.insertedExposures).toBe(3);
    expect(typeof r.json.revisionToken).toBe("string");
    expect(typeof r.json.padding).toBe("string");
    const stored = await t.store.getExposures(keys.map((k) => k.bytes));
    expect(stored).toHaveLength(3);
    expect(stored.map((s) => s.daysSinceOnset).sort()).toEqual([0, 1, 2]);
  });

  test("the positive band's log is uploaded with the same certificate, once", async () => {
    const r = await uploadLog(t, log, cert.certificate, cert.hmacKey, keys);
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ bandId: ids.F0, duplicate: false, resolution: "pending", segments: 2 });
    logId = r.json.logId;
    // Replaying the same upload is answered as a duplicate and stores nothing new.
    const replay = await uploadLog(t, log, cert.certificate, cert.hmacKey, keys);
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({ logId, duplicate: true });
    expect((await t.store.counts()).bandLogs).toBe(1);
  });

  test("F1 resolution finds the bands the positive band met, with minutes per attenuation bucket", async () => {
    await t.app.f1.kick();
    const l = await call(t, "GET", `/api/band-logs/${logId}`, { key: t.adminKey });
    expect(l.json.resolution).toBe("done");
    expect(l.json.summary).toMatchObject({
      skippedMonotonic: 1,
      skippedBluezone: 1,
      bandsScanned: 3,
      matches: 3,
      contacts: 2,
      closeContacts: 1,
    });
    const c = await call(t, "GET", "/api/contacts", { key: t.adminKey });
    expect(c.status).toBe(200);
    expect(c.json.buckets).toEqual(["<=55", "56-63", "64-70", ">70"]);
    const byBand = Object.fromEntries(c.json.contacts.map((x: { contactBandId: string }) => [x.contactBandId, x]));
    expect(Object.keys(byBand).sort()).toEqual([ids.A, ids.B].sort());
    expect(byBand[ids.A]).toMatchObject({
      positiveBandId: ids.F0,
      day: isoDay(DAY0 - 2),
      // 20 close minutes; the overlapping far record adds only the 2 minutes the close one did not cover.
      minutesByAttenuation: { "<=55": 20, "56-63": 0, "64-70": 2, ">70": 0 },
      totalMinutes: 22,
      closeContact: true,
      minAttenuationDb: -6 - -55, // the close record's mean RSSI
      status: "new",
    });
    expect(byBand[ids.B]).toMatchObject({
      day: isoDay(DAY0 - 1),
      minutesByAttenuation: { "<=55": 0, "56-63": 0, "64-70": 4, ">70": 0 },
      closeContact: false,
    });
    expect(c.json.contacts[0].contactBandId).toBe(ids.A); // close contacts first
    const csv = await call(t, "GET", "/api/contacts?format=csv", { key: t.adminKey });
    expect(csv.headers.get("content-type")).toContain("text/csv");
    const lines = csv.text.trim().split("\r\n");
    expect(lines[0]).toBe(
      "id,positive_band_id,contact_band_id,day,minutes_att_<=55,minutes_att_56-63,minutes_att_64-70,minutes_att_>70," +
        "total_minutes,close_contact,min_attenuation_db,sightings,first_seen,last_seen,status",
    );
    expect(lines).toHaveLength(3);
    const st = await call(t, "POST", `/api/contacts/${byBand[ids.A].id}/status`, {
      key: t.adminKey,
      json: { status: "called" },
    });
    expect(st.status).toBe(200);
    const called = await call(t, "GET", "/api/contacts?status=called", { key: t.adminKey });
    expect(called.json.contacts.map((x: { contactBandId: string }) => x.contactBandId)).toEqual([ids.A]);
  });

  test("re-resolving keeps the worklist (no duplicates, status kept)", async () => {
    const r = await call(t, "POST", `/api/band-logs/${logId}/resolve`, { key: t.adminKey });
    expect(r.status).toBe(202);
    await t.app.f1.kick();
    const c = await call(t, "GET", "/api/contacts", { key: t.adminKey });
    expect(c.json.contacts).toHaveLength(2);
    expect(c.json.contacts.find((x: { contactBandId: string }) => x.contactBandId === ids.A).status).toBe("called");
  });

  test("the export zip lists the published keys, signed with the export key", async () => {
    const before = await call(t, "GET", "/v1/exports/index.txt");
    expect(before.text).toBe(""); // the window holding the keys has not closed yet
    t.clock.ms += 3600 * 1000;
    const index = await call(t, "GET", "/v1/exports/index.txt");
    expect(index.status).toBe(200);
    const names = index.text.trim().split("\n");
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^v1\/exports\/\d+-\d+-00001\.zip$/);
    const zip = await call(t, "GET", "/" + names[0]);
    expect(zip.status).toBe(200);
    expect(zip.headers.get("content-type")).toBe("application/zip");
    const files = await unzipExport(zip.buffer);
    if (!files.ok) throw new Error(files.error);
    const pem = await call(t, "GET", "/v1/exports/signing-key.pem");
    const publicKey = createPublicKey(pem.text);
    const sigs = decodeSignatureList(files.value.sig);
    if (!sigs.ok) throw new Error(sigs.error);
    expect(sigs.value).toHaveLength(1);
    expect(sigs.value[0]).toMatchObject({
      batch_num: 1,
      batch_size: 1,
      signature_info: {
        signature_algorithm: SIGNATURE_ALGORITHM,
        verification_key_id: "tracelet",
        verification_key_version: "v1",
      },
    });
    expect(verifyExportSignature(files.value.bin, sigs.value[0].signature!, publicKey)).toBe(true);
    const tampered = Buffer.from(files.value.bin);
    tampered[tampered.length - 1] ^= 1;
    expect(verifyExportSignature(tampered, sigs.value[0].signature!, publicKey)).toBe(false);
    const bin = decodeExportBin(files.value.bin);
    if (!bin.ok) throw new Error(bin.error);
    expect(bin.value).toMatchObject({ region: "TL", batch_num: 1, batch_size: 1 });
    expect(bin.value.end_timestamp! - bin.value.start_timestamp!).toBe(3600);
    // The published keys, each once, among random decoys padding the file to 1000-1100 keys.
    const got = bin.value.keys.map((k) => Buffer.from(k.key_data).toString("hex"));
    expect(new Set(got).size).toBe(got.length);
    for (const k of keys) expect(got).toContain(k.bytes.toString("hex"));
    expect(got.length).toBeGreaterThanOrEqual(1000);
    expect(got.length).toBeLessThanOrEqual(1100);
    for (const k of bin.value.keys) {
      expect(k.report_type).toBe("CONFIRMED_TEST");
      expect(k.rolling_period).toBe(144);
    }
  });

  test("nothing secret reached the log, and the audit log saw every step", async () => {
    const all = t.logs.join("\n");
    const secretsSeen = [
      cert.code,
      cert.token,
      cert.certificate,
      cert.hmacKey.toString("base64"),
      t.adminKey,
      t.kioskKey,
      t.flasherKey,
      ...Object.values(secrets).map((s) => s.toString("hex")),
      ...keys.map((k) => k.key),
    ];
    for (const s of secretsSeen) expect(all).not.toContain(s);
    const audit = await call(t, "GET", "/api/audit?limit=200", { key: t.adminKey });
    const actions = new Set(audit.json.entries.map((e: { action: string }) => e.action));
    for (const a of [
      "band.created",
      "code.issued",
      "code.verified",
      "certificate.issued",
      "keys.published",
      "bandlog.stored",
      "contact.status",
    ]) {
      expect(actions).toContain(a);
    }
    expect(JSON.stringify(audit.json)).not.toContain(cert.code);
  });

  /** The positive band's log: two sightings of A (overlapping), one of B across midnight, misses and skips. */
  function buildLog(): Buffer {
    const base = (DAY0 - 2) * 86400 + 8 * 3600; // 08:00 UTC two days ago
    const at = (day: number, h: number, m: number) => day * 86400 + h * 3600 + m * 60;
    const tA = at(DAY0 - 2, 10, 0);
    const tA2 = at(DAY0 - 2, 10, 10);
    const tB = at(DAY0 - 1, 0, 5);
    const tC = at(DAY0 - 2, 15, 0);
    const records = [
      sightingOf(secrets.A, Math.floor(tA / 600), {
        seenAt: tA,
        base,
        duration: 20,
        rssiMean: -55,
        txPower: -6,
      }),
      sightingOf(secrets.A, Math.floor(tA2 / 600), { seenAt: tA2, base, duration: 12, rssiMean: -71, txPower: -6 }),
      // B's advert of 23:50 the day before, seen at 00:05: 15 minutes and a day boundary away.
      sightingOf(secrets.B, Math.floor(at(DAY0 - 2, 23, 50) / 600), {
        seenAt: tB,
        base,
        duration: 4,
        rssiMean: -73,
        txPower: -6,
      }),
      // C's RPI of three hours earlier: outside the tolerance, so not C.
      sightingOf(secrets.C, Math.floor((tC - 3 * 3600) / 600), {
        seenAt: tC,
        base,
        duration: 30,
        rssiMean: -50,
        txPower: -6,
      }),
      // A phone nobody registered.
      {
        kind: KIND_EN,
        id: randomBytes(8),
        startMinute: 400,
        durationMinutes: 15,
        rssiMean: -65,
        aemTx: 7,
      },
      {
        kind: KIND_BLUEZONE,
        id: randomBytes(8),
        startMinute: 410,
        durationMinutes: 15,
        rssiMean: -65,
        aemTx: 0,
      },
    ];
    const monotonic = [
      sightingOf(secrets.A, Math.floor(tA / 600), { seenAt: 600, base: 0, duration: 10, rssiMean: -50, txPower: -6 }),
    ];
    return logBytes(
      bandF0,
      [
        { header: { seq: 7, baseTime: base, monotonic: false, bootEpoch: 1 }, records },
        { header: { seq: 8, baseTime: 0, monotonic: true, bootEpoch: 2 }, records: monotonic },
      ],
      secrets.F0,
    );
  }
});

function isoDay(day: number): string {
  return new Date(day * 86400000).toISOString().slice(0, 10);
}

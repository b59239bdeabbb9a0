import { randomBytes } from "crypto";
import { pureCrypto } from "../../firmware/src/protocol/crypto";
import { encodeLogExportV3, logKey, signPages, unitsOfSegments } from "../../firmware/src/protocol/log-mac";
import { ExportSegment } from "../../firmware/src/protocol/record";
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
import { describeEachBackend, testDb } from "../postgres";

/**
 * Issue 19 finding 3, "forged contacts": a log uploaded with a valid certificate was bound only to the kiosk's
 * certificate. One RPI sniffed on air, written into a forged log at -40 dBm for 63 minutes, put an innocent band on
 * the close-contact list. The log must now be the band's (page MACs under its log key), its band id registered, the
 * certificate's keys that band's, and one RPI's span at most what rotation allows.
 */
describeEachBackend("forged band logs (escrow deployment)", (backend) => {
  let t: TestAuthority;
  const positive = randomBytes(8);
  const innocent = randomBytes(8);
  const other = randomBytes(8);
  const keys = bandKeys(positive, 3);
  const seenAt = (DAY0 - 2) * 86400 + 10 * 3600;
  const base = (DAY0 - 2) * 86400;

  /** The reviewer's record: the innocent band's RPI of that interval, sniffed on air, claimed for 63 min at -40 dBm. */
  const sniffed = (): ExportSegment[] => [
    {
      header: { seq: 1, baseTime: base, monotonic: false, bootEpoch: 1 },
      records: [
        sightingOf(bandSecretOf(innocent), Math.floor(seenAt / 600), {
          seenAt,
          base,
          duration: 63,
          rssiMean: -40,
          txPower: -6,
        }),
      ],
    },
  ];

  beforeAll(async () => {
    t = await startTestAuthority({ deployment: "escrow", rateLimits: { enabled: false } }, testDb(backend));
    for (const b of [positive, innocent, other]) await registerBand(t, b);
  });
  afterAll(async () => {
    await t.close();
  });

  async function contacts(): Promise<{ contactBandId: string; totalMinutes: number; closeContact: boolean }[]> {
    await t.app.f1.kick();
    return (await call(t, "GET", "/api/contacts", { key: t.adminKey })).json.contacts;
  }

  /** Certifies `k` with the log and uploads it, sending `sent` as X-Tracelet-Keys (null: no header). */
  async function upload(log: Buffer, k = keys, sent: typeof keys | null = k) {
    const c = await certify(t, k, { log });
    return uploadLog(t, log, c.certificate, c.hmacKey, sent ?? undefined);
  }

  test("the reviewer's forgery (valid certificate, registered positive band, sniffed RPI) is refused: bad MAC", async () => {
    // The forger has no band secret: whatever key it signs with, or none, page 0 fails.
    const forgedKey = randomBytes(16);
    const pages = signPages(pureCrypto.sha256, forgedKey, positive, unitsOfSegments(sniffed()));
    const unsigned = pages.map((p) => ({ ...p, mac: new Uint8Array(16) }));
    for (const ps of [pages, unsigned]) {
      const r = await upload(Buffer.from(encodeLogExportV3({ bandId: positive, pages: ps })));
      expect(r.status).toBe(403);
      expect(r.json).toMatchObject({
        code: "bad_log_mac",
        error: `page 0 of the log is not signed by band ${positive.toString("hex")}`,
      });
    }
    expect((await t.store.counts()).bandLogs).toBe(0);
    expect(await contacts()).toEqual([]);
  });

  test("a log whose band id is not registered is refused", async () => {
    const stranger = randomBytes(8);
    const r = await upload(logBytes(stranger, sniffed()), bandKeys(stranger, 1));
    expect(r.status).toBe(403);
    expect(r.json.code).toBe("unknown_band");
  });

  test("a certificate whose keys are not the band's is refused for that band's log", async () => {
    // A genuine log of `positive`, carried by a certificate issued for `other`'s keys.
    const log = logBytes(positive, sniffed());
    const r = await upload(log, bandKeys(other, 2));
    expect(r.status).toBe(403);
    expect(r.json.code).toBe("keys_not_of_band");
    // Random keys (a private-mode phone's) are not the band's either.
    const random = bandKeys(positive, 2, DAY0, randomBytes(16));
    expect((await upload(log, random)).json.code).toBe("keys_not_of_band");
    // Keys other than the certificate's, or none, are refused too.
    expect((await upload(log, keys, bandKeys(positive, 2))).json.code).toBe("tekmac_mismatch");
    expect((await upload(log, keys, null)).json.code).toBe("keys_required");
    expect((await t.store.counts()).bandLogs).toBe(0);
  });

  test("a genuine record claims one RPI for 24 min at most (log format 3), under the 25 min an RPI is on air", async () => {
    // Had the positive band itself logged it, the log verifies. Format 3 holds a duration of 0-6 steps of 4 minutes,
    // so the 63 minutes claimed arrive as 24, below resolution's own cap (one RPI is on air at most 20 min + a
    // connection delay), which finds nothing more to cap.
    const r = await upload(logBytes(positive, sniffed()));
    expect(r.status).toBe(201);
    const list = await contacts();
    expect(list).toEqual([expect.objectContaining({ contactBandId: innocent.toString("hex"), totalMinutes: 24 })]);
    const l = await call(t, "GET", `/api/band-logs/${r.json.logId}`, { key: t.adminKey });
    expect(l.json.summary).toMatchObject({ cappedSpans: 0, matches: 1 });
  });

  test("the log key is the band's: another band's key does not verify", async () => {
    const wrong = signPages(
      pureCrypto.sha256,
      logKey(pureCrypto.sha256, bandSecretOf(other)),
      positive,
      unitsOfSegments(sniffed()),
    );
    const r = await upload(Buffer.from(encodeLogExportV3({ bandId: positive, pages: wrong })));
    expect(r.json.code).toBe("bad_log_mac");
  });
});

import { randomBytes } from "crypto";
import {
  bandKeys,
  call,
  certify,
  DAY0,
  logBytes,
  makeKeys,
  publishBody,
  registerBand,
  startTestAuthority,
  uploadLog,
} from "./helpers";
import { describeEachBackend, testDb } from "../postgres";

describeEachBackend("retention and code status", (backend) => {
  test("keys, logs and codes past their retention are purged; the purge is audited", async () => {
    const t = await startTestAuthority({ deployment: "escrow", rateLimits: { enabled: false } }, testDb(backend));
    try {
      const keys = makeKeys(3);
      const c = await certify(t, keys, { log: logBytes(randomBytes(8), []) });
      expect((await call(t, "POST", "/v1/publish", { json: publishBody(keys, c.certificate, c.hmacKey) })).status).toBe(
        200,
      );
      expect((await uploadLog(t, logBytes(randomBytes(8), []), c.certificate, c.hmacKey)).status).toBe(403); // other log
      const band = randomBytes(8);
      await registerBand(t, band);
      const body = logBytes(band, []);
      const c2 = await certify(t, bandKeys(band, 1), { log: body });
      expect((await uploadLog(t, body, c2.certificate, c2.hmacKey, bandKeys(band, 1))).status).toBe(201);
      const status = await call(t, "GET", "/api/codes/" + (await firstCodeUuid(t)), { key: t.adminKey });
      expect(status.json).toMatchObject({ claimed: true, certificateIssued: true, testType: "confirmed" });

      expect(await t.app.purge(DAY0 * 86400 + 12 * 3600)).toMatchObject({ exposures: 0, bandLogs: 0 });
      // 21 days after the newest key's day ended, 30 days after the upload:
      const later = (DAY0 + 31) * 86400;
      const purged = await t.app.purge(later);
      expect(purged).toMatchObject({ exposures: 3, bandLogs: 1, codes: 2 });
      expect(await t.store.counts()).toMatchObject({ exposures: 0, bandLogs: 0, codes: 0 });
      const audit = await t.store.listAudit(5);
      expect(audit[0]).toMatchObject({ actor: "system", action: "retention.purged" });
    } finally {
      await t.close();
    }
  });
});

async function firstCodeUuid(t: Awaited<ReturnType<typeof startTestAuthority>>): Promise<string> {
  const audit = await t.store.listAudit(100);
  return audit.filter((e) => e.action === "code.issued").pop()!.subject!;
}

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
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
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

describeEachBackend("retention of shared rate limits and lockouts", (backend) => {
  test("rate buckets idle for a minute and lockouts whose lock and failure window ended are purged", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-retention-"));
    const t = await startTestAuthority({}, backend === "postgres" ? "postgres" : path.join(dir, "a.db"));
    try {
      // The server's first background pass (purge included) runs at start: it is let finish first.
      while (t.app.backgroundStatus.lastRunAt === null) await new Promise((r) => setTimeout(r, 10));
      const now = Math.floor(t.clock.ms / 1000);
      const bucket = (key: string, agoS: number) =>
        t.rawSql(
          "INSERT INTO rate_buckets (key, tokens, at_ms, granted) VALUES (?, 3, ?, ?)",
          key,
          (now - agoS) * 1000,
          backend === "postgres" ? true : 1,
        );
      await bucket("idle", 61);
      await bucket("recent", 30);
      // The default failure window and lock are 15 minutes.
      const lockout = (key: string, sinceAgoS: number, failures: number, lockedUntil: number) =>
        t.rawSql(
          "INSERT INTO auth_lockouts (key, since, failures, locked_until) VALUES (?, ?, ?, ?)",
          key,
          now - sinceAgoS,
          failures,
          lockedUntil,
        );
      await lockout("lock-ended", 3600, 0, now - 1800);
      await lockout("window-ended", 1000, 4, 0);
      await lockout("locked", 100, 0, now + 800);
      await lockout("counting", 60, 3, 0);
      await lockout("lock-ended-recently", 2000, 0, now - 60);

      expect(await t.app.purge(now)).toMatchObject({ rateBuckets: 1, lockouts: 2 });
      const keys = async (table: string) =>
        (await t.rawSql(`SELECT key FROM ${table} ORDER BY key`)).map((r) => r.key as string);
      expect(await keys("rate_buckets")).toEqual(["recent"]);
      expect(await keys("auth_lockouts")).toEqual(["counting", "lock-ended-recently", "locked"]);
      const audit = await t.store.listAudit(1);
      expect(audit[0]).toMatchObject({ action: "retention.purged", detail: expect.objectContaining({ lockouts: 2 }) });
    } finally {
      await t.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function firstCodeUuid(t: Awaited<ReturnType<typeof startTestAuthority>>): Promise<string> {
  const audit = await t.store.listAudit(100);
  return audit.filter((e) => e.action === "code.issued").pop()!.subject!;
}

import { bucketSlots, RateLimiter } from "../../host-tools/src/authority/http/rate-limit";
import { openStore } from "../../host-tools/src/authority/store/open";
import { call, startTestAuthority, TestAuthority } from "./helpers";
import { describeEachBackend, dropPostgres, freshPostgresUrl, PG_SKIP_REASON, PG_URL, testDb } from "../postgres";

/**
 * Issue 20: the rate-limit buckets stay within `rateLimits.maxBuckets` between purges, whatever a flood of new
 * client addresses does, and a client that is being limited stays limited through the flood.
 */
const MAX = 64;

async function bucketCount(t: TestAuthority, backend: string): Promise<number> {
  if (backend === "postgres") return Number((await t.rawSql("SELECT COUNT(*) AS n FROM rate_buckets"))[0].n);
  return (t.app.rateLimiter as RateLimiter).size;
}

describeEachBackend("rate-limit buckets bounded between purges", (backend) => {
  test("a flood of distinct addresses leaves at most maxBuckets buckets; a limited address stays limited", async () => {
    const t = await startTestAuthority(
      { trustProxy: true, rateLimits: { publicPerMinute: 5, maxBuckets: MAX } },
      testDb(backend),
    );
    try {
      const get = async (ip: string) =>
        (await call(t, "GET", "/.well-known/jwks.json", { headers: { "x-forwarded-for": ip } })).status;
      const abuser = "203.0.113.66";
      for (let i = 0; i < 5; i++) expect(await get(abuser)).toBe(200);
      expect(await get(abuser)).toBe(429);
      // 400 new addresses (the clock stands still, so no bucket refills); the abuser keeps trying meanwhile.
      const abuserStatuses: number[] = [];
      for (let i = 0; i < 400; i++) {
        expect(await get(`2001:db8::${(i + 1).toString(16)}`)).toBe(200);
        if (i % 10 === 9) abuserStatuses.push(await get(abuser));
      }
      expect(abuserStatuses).toEqual(new Array(40).fill(429));
      const n = await bucketCount(t, backend);
      expect(n).toBeLessThanOrEqual(MAX);
      // The flood did fill the table (the bound was what held it).
      expect(n).toBeGreaterThan(MAX / 2);
      if (backend === "postgres") {
        const rows = await t.rawSql("SELECT slot FROM rate_buckets WHERE slot IS NULL OR slot < 0 OR slot >= ?", MAX);
        expect(rows).toEqual([]);
      }
      // A limit is a rate, not a ban: a minute later the abuser has tokens again.
      t.clock.ms += 60_000;
      expect(await get(abuser)).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describeEachBackend("lockout entries bounded by the API keys", (backend) => {
  test("failed guesses from many addresses with one key add at most lockoutFailures address entries", async () => {
    const t = await startTestAuthority(
      { trustProxy: true, rateLimits: { verifyPerMinute: 1000, lockoutFailures: 5 } },
      testDb(backend),
    );
    try {
      const statuses: string[] = [];
      for (let i = 0; i < 200; i++) {
        const r = await call(t, "POST", "/api/verify", {
          key: t.kioskKey,
          json: { code: String(40000000 + i) },
          headers: { "x-forwarded-for": `2001:db8::${(i + 1).toString(16)}` },
        });
        statuses.push(r.json.code);
      }
      // Five failures lock the key out: every later guess is refused before it can fail (and add an entry).
      expect(statuses.slice(0, 5).every((c) => c !== "locked_out")).toBe(true);
      expect(statuses.slice(5)).toEqual(new Array(195).fill("locked_out"));
      if (backend === "postgres") {
        const rows = await t.rawSql("SELECT key FROM auth_lockouts ORDER BY key");
        expect(rows.filter((r) => String(r.key).startsWith("ip|"))).toHaveLength(5);
        expect(rows.filter((r) => String(r.key).startsWith("key|"))).toHaveLength(1);
      }
    } finally {
      await t.close();
    }
  });
});

describe("bucket slots", () => {
  test("a key's candidate slots are distinct, in range and the same every time", () => {
    for (const key of ["public|203.0.113.1", "verify|::1", "x"]) {
      const s = bucketSlots(key, 1000);
      expect(s).toEqual(bucketSlots(key, 1000));
      expect(new Set(s).size).toBe(s.length);
      expect(s.length).toBeGreaterThan(1);
      for (const x of s) expect(x >= 0 && x < 1000 && Number.isInteger(x)).toBe(true);
    }
    expect(bucketSlots("public|203.0.113.1", 1)).toEqual([0]);
  });
});

(PG_URL ? describe : describe.skip)(
  `rate-limit buckets shared by two nodes [postgres]${PG_URL ? "" : " " + PG_SKIP_REASON}`,
  () => {
    test("concurrent floods from two nodes stay bounded, and one key's limit holds across both", async () => {
      const url = await freshPostgresUrl();
      const a = await openStore(url);
      const b = await openStore(url);
      const now = () => 1_700_000_000_000;
      const settings = { maxFailures: 5, windowS: 900, lockS: 900, maxBuckets: MAX };
      const ga = a.sharedGuards!(settings, now).rateLimiter;
      const gb = b.sharedGuards!(settings, now).rateLimiter;
      try {
        // Both nodes race to create the same new buckets, and flood with keys of their own.
        const same = Array.from({ length: 100 }, (_, i) => `public|198.51.100.${i}`);
        const waits = await Promise.all([
          ...same.map((k) => ga.take(k, 5)),
          ...same.map((k) => gb.take(k, 5)),
          ...Array.from({ length: 300 }, (_, i) => (i % 2 ? ga : gb).take(`public|flood-${i}`, 5)),
        ]);
        // Every take was answered; contention may refuse one, never crash.
        expect(waits.every((w) => typeof w === "number" && w >= 0)).toBe(true);
        const rows = await call0(url, "SELECT COUNT(*) AS n, COUNT(DISTINCT key) AS k FROM rate_buckets");
        expect(Number(rows.n)).toBeLessThanOrEqual(MAX);
        expect(Number(rows.k)).toBe(Number(rows.n));
        // One key, 12 concurrent takes over both nodes, 5 a minute: exactly 5 granted.
        const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? ga : gb).take("verify|x", 5)));
        expect(burst.filter((w) => w === 0).length).toBe(5);
      } finally {
        await a.close();
        await b.close();
        await dropPostgres(url);
      }
    });
  },
);

async function call0(url: string, sql: string): Promise<Record<string, unknown>> {
  const pg = (await import("pg")).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows[0];
  } finally {
    await c.end();
  }
}

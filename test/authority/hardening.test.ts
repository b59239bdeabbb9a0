import { generateKeyPairSync, randomBytes } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { clientIp, Lockout, proxyMatcher, RateLimiter } from "../../host-tools/src/authority/http/rate-limit";
import { malformedTarget, originForm } from "../../host-tools/src/authority/http/target";
import { SqliteStore } from "../../host-tools/src/authority/store/sqlite";
import { GAEN_EXPORTS } from "../helpers/paths";
import { call, certify, DAY0, makeKeys, publishBody, startTestAuthority } from "./helpers";
import { readExportZip } from "./independent-export";
import { describeEachBackend, testDb } from "../postgres";

/** Issue 16: the HTTP layer's edges, rate limits behind proxies, lockouts, file modes, background errors. */
describe("request targets", () => {
  test.each(["//[", "//%5B", "http://127.0.0.1:99999/healthz", "*", "/%zz", "/%C0%AF", "/a b", "/x[1]"])(
    "%s is malformed",
    (t) => {
      expect(malformedTarget(originForm(t))).toBe(true);
    },
  );
  test.each(["/healthz", "/api/band-logs?limit=5&offset=0", "/v1/exports/1-2-00001.zip", "/api/codes/a%20b"])(
    "%s is fine",
    (t) => {
      expect(malformedTarget(t)).toBe(false);
    },
  );
  test("absolute-form is reduced to origin-form", () => {
    expect(originForm("http://authority.example:8443/healthz?x=1")).toBe("/healthz?x=1");
  });
});

describeEachBackend("client address behind proxies", (backend) => {
  const trusted = proxyMatcher(["127.0.0.0/8", "10.0.0.0/8", "::1"]);
  test("the right-most address that is not a trusted proxy is the client", () => {
    expect(clientIp("127.0.0.1", "6.6.6.6, 203.0.113.9", trusted)).toBe("203.0.113.9");
    expect(clientIp("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3", trusted)).toBe("203.0.113.9");
    expect(clientIp("::ffff:127.0.0.1", ["1.1.1.1", "203.0.113.9"], trusted)).toBe("203.0.113.9");
  });
  test("X-Forwarded-For from a peer that is not a trusted proxy is ignored", () => {
    expect(clientIp("198.51.100.7", "203.0.113.9", trusted)).toBe("198.51.100.7");
    expect(clientIp("127.0.0.1", "203.0.113.9", proxyMatcher([]))).toBe("127.0.0.1");
  });
  test("only trusted hops: the left-most one", () => {
    expect(clientIp("127.0.0.1", "10.0.0.1, 10.0.0.2", trusted)).toBe("10.0.0.1");
  });

  test("a client rotating the left-most X-Forwarded-For entry is still limited", async () => {
    const t = await startTestAuthority({ trustProxy: true, rateLimits: { verifyPerMinute: 3 } }, testDb(backend));
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await call(t, "POST", "/api/verify", {
          key: t.kioskKey,
          json: { code: String(10000000 + i) },
          headers: { "x-forwarded-for": `192.0.2.${i}, 203.0.113.9` },
        });
        statuses.push(r.status);
      }
      expect(statuses).toEqual([400, 400, 400, 429, 429, 429]);
      // Another client behind the same proxy has its own bucket.
      const other = await call(t, "POST", "/api/verify", {
        key: t.kioskKey,
        json: { code: "10000000" },
        headers: { "x-forwarded-for": "203.0.113.10" },
      });
      expect(other.status).toBe(400);
    } finally {
      await t.close();
    }
  });
});

describeEachBackend("rate limiter and lockout tables", (backend) => {
  test("a full bucket table does not reset the buckets of limited clients", () => {
    const clock = { ms: 0 };
    const rl = new RateLimiter(() => clock.ms, 1000);
    for (let i = 0; i < 5; i++) rl.take("attacker", 5);
    expect(rl.take("attacker", 5)).toBeGreaterThan(0);
    // A flood of new addresses fills the table.
    for (let i = 0; i < 5000; i++) {
      rl.take("flood-" + i, 5);
      if (i % 100 === 0) expect(rl.take("attacker", 5)).toBeGreaterThan(0);
    }
    expect(rl.size).toBeLessThanOrEqual(1000);
    expect(rl.take("attacker", 5)).toBeGreaterThan(0);
  });

  test("lockout after repeated failures, per key, for its duration", () => {
    const clock = { ms: 0 };
    const lo = new Lockout(() => clock.ms, 3, 900, 600);
    expect(lo.fail(["ip|a", "key|kiosk:k1"])).toEqual([]);
    lo.fail(["ip|a", "key|kiosk:k1"]);
    expect(lo.fail(["ip|b", "key|kiosk:k1"])).toEqual(["key|kiosk:k1"]);
    expect(lo.wait(["ip|b", "key|kiosk:k1"])).toBe(600);
    expect(lo.wait(["ip|a"])).toBe(0);
    clock.ms += 601_000;
    expect(lo.wait(["key|kiosk:k1"])).toBe(0);
  });

  test("failed code guesses are audited and lock out the kiosk key, also from a new address", async () => {
    const t = await startTestAuthority(
      { trustProxy: true, rateLimits: { verifyPerMinute: 1000, lockoutFailures: 5 } },
      testDb(backend),
    );
    try {
      const guess = (i: number) =>
        call(t, "POST", "/api/verify", {
          key: t.kioskKey,
          json: { code: String(20000000 + i) },
          headers: { "x-forwarded-for": `203.0.113.${i}` },
        });
      for (let i = 0; i < 5; i++) expect((await guess(i)).status).toBe(400);
      const locked = await guess(99);
      expect(locked.status).toBe(429);
      expect(locked.json.code).toBe("locked_out");
      expect(locked.headers.get("retry-after")).toMatch(/^\d+$/);
      const audit = await call(t, "GET", "/api/audit?limit=50", { key: t.adminKey });
      const actions = audit.json.entries.map((e: { action: string }) => e.action);
      expect(actions.filter((a: string) => a === "code.failed")).toHaveLength(5);
      expect(actions).toContain("auth.locked_out");
      expect(JSON.stringify(audit.json)).not.toContain("20000000");
      t.clock.ms += 16 * 60_000;
      expect((await guess(100)).status).toBe(400);
    } finally {
      await t.close();
    }
  });
});

describeEachBackend("HTTP edges", (backend) => {
  test("admin paging must be whole numbers; HEAD on a zip has its length; early refusal of band logs", async () => {
    const t = await startTestAuthority({ rateLimits: { enabled: false } }, testDb(backend));
    try {
      for (const q of ["limit=1.5", "offset=1e20", "limit=-1", "limit=abc", "offset=0x10"]) {
        const r = await call(t, "GET", "/api/band-logs?" + q, { key: t.adminKey });
        expect([q, r.status, r.json.code]).toEqual([q, 400, "bad_request"]);
      }
      for (const q of ["limit=1.5", "before=1e20"]) {
        expect((await call(t, "GET", "/api/audit?" + q, { key: t.adminKey })).status).toBe(400);
      }
      expect((await call(t, "GET", "/api/band-logs?limit=5&offset=0", { key: t.adminKey })).status).toBe(200);

      const keys = makeKeys(3);
      const c = await certify(t, keys);
      expect((await call(t, "POST", "/v1/publish", { json: publishBody(keys, c.certificate, c.hmacKey) })).status).toBe(
        200,
      );
      t.clock.ms += 2 * 3600_000;
      const name = (await call(t, "GET", "/v1/exports/index.txt")).text.trim().split("\n")[0];
      const get = await call(t, "GET", "/" + name);
      const head = await fetch(t.url + "/" + name, { method: "HEAD" });
      expect(get.buffer.length).toBeGreaterThan(1000);
      expect(head.headers.get("content-length")).toBe(String(get.buffer.length));

      // A band log without credentials is answered before its (declared 5 MB) body is sent.
      const status = await new Promise<string>((resolve, reject) => {
        const s = net.connect(Number(new URL(t.url).port), "127.0.0.1");
        let got = "";
        s.on("data", (d) => {
          got += d;
          if (got.includes("\r\n")) {
            resolve(got.split("\r\n")[0]);
            s.destroy();
          }
        });
        s.on("error", reject);
        s.write(
          "POST /v1/band-logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" +
            "Content-Length: 5000000\r\nAuthorization: Bearer a.b.c\r\n\r\n" +
            randomBytes(100).toString("latin1"),
        );
      });
      expect(status).toMatch(/^HTTP\/1\.1 401/);
    } finally {
      await t.close();
    }
  });

  test("background failures are logged and shown in /healthz", async () => {
    const t = await startTestAuthority({}, testDb(backend));
    try {
      t.app.exports.ensureBatches = () => Promise.reject(new Error("disk full"));
      await t.app.runBackgroundWork();
      const h = await call(t, "GET", "/healthz");
      expect(h.json.ok).toBe(true);
      expect(h.json.background).toMatchObject({ ok: false, failures: 1, lastError: "disk full" });
      expect(t.logs.join("\n")).toContain("background work failed: disk full");
    } finally {
      await t.close();
    }
  });
});

describeEachBackend("real GAEN shapes", (backend) => {
  test("the keys of Google's example export (not day-aligned, adjacent) publish once moved to recent days", async () => {
    // Read with the independent decoder: it also has to understand Google's own file.
    const pem = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({
      type: "spki",
      format: "pem",
    }) as string;
    const file = path.join(GAEN_EXPORTS, "server-example-2-records.zip");
    const google = await readExportZip(fs.readFileSync(file), pem);
    expect(google.signatureValid).toBe(false); // not Google's key
    expect(google.keys.map((k) => k.rollingStart % 144).filter((o) => o !== 0)).toHaveLength(2);
    const latest = Math.max(...google.keys.map((k) => k.rollingStart));
    const shift = (DAY0 - 1) * 144 - Math.floor(latest / 144) * 144;
    const keys = google.keys.map((k) => {
      const bytes = randomBytes(16);
      return {
        bytes,
        key: bytes.toString("base64"),
        rollingStartNumber: k.rollingStart + shift,
        rollingPeriod: k.rollingPeriod,
        transmissionRisk: k.transmissionRisk,
      };
    });
    const t = await startTestAuthority({ rateLimits: { enabled: false } }, testDb(backend));
    try {
      const c = await certify(t, keys);
      const r = await call(t, "POST", "/v1/publish", { json: publishBody(keys, c.certificate, c.hmacKey) });
      expect(r.status).toBe(200);
      expect(r.json.insertedExposures).toBe(2);
      const stored = await t.store.getExposures(keys.map((k) => k.bytes));
      expect(stored.map((e) => [e.rollingStart, e.rollingPeriod]).sort()).toEqual(
        keys.map((k) => [k.rollingStartNumber, k.rollingPeriod]).sort(),
      );
    } finally {
      await t.close();
    }
  });
});

describe("connection cap", () => {
  test("connections past limits.maxConnections are closed at once; a freed slot is used again", async () => {
    const t = await startTestAuthority({ limits: { maxConnections: 2 } });
    const port = Number(new URL(t.url).port);
    const open = () =>
      new Promise<net.Socket>((resolve) => {
        const s = net.connect(port, "127.0.0.1", () => resolve(s));
        s.on("error", () => undefined);
      });
    const ask = (s: net.Socket) =>
      new Promise<string>((resolve) => {
        let got = "";
        s.on("data", (d) => (got += d));
        s.on("close", () => resolve(got.split("\r\n")[0]));
        s.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      });
    try {
      const held = [await open(), await open()];
      await new Promise((r) => setTimeout(r, 50));
      expect(await ask(await open())).toBe("");
      held[0].destroy();
      await new Promise((r) => setTimeout(r, 100));
      expect(await ask(await open())).toMatch(/^HTTP\/1\.1 200/);
      held[1].destroy();
    } finally {
      await t.close();
    }
  });
});

describe("database files", () => {
  test("created 0600, WAL included; an existing 0644 database is narrowed", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-authority-mode-"));
    const old = process.umask(0o022);
    try {
      const db = path.join(dir, "a.db");
      const s = new SqliteStore(db);
      await s.audit({ at: 1, actor: "system", action: "test", subject: null, ip: null, detail: null });
      for (const f of [db, db + "-wal", db + "-shm"]) expect(fs.statSync(f).mode & 0o777).toBe(0o600);
      await s.close();
      const legacy = path.join(dir, "b.db");
      new SqliteStore(legacy).close();
      fs.chmodSync(legacy, 0o644);
      await new SqliteStore(legacy).close();
      expect(fs.statSync(legacy).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

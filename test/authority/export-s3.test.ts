import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require("s3rver") as new (o: Record<string, unknown>) => {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const s3rverAccount = require("s3rver/lib/models/account") as {
  DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
};
import { Backend, describeEachBackend, testDb } from "../postgres";
import { call, certify, makeKeys, publishBody, startTestAuthority, TestAuthority } from "./helpers";
import { SigV4Proxy, startSigV4Proxy } from "./sigv4-proxy";

/**
 * Exports for a CDN in an S3-compatible bucket (config exports.s3): a local S3-compatible server (s3rver, from
 * npm) behind a proxy that verifies every request's AWS Signature V4 (sigv4-proxy.ts; s3rver itself checks only
 * the access key id). The bucket holds byte for byte what /v1/exports/* answers, under the same paths, with
 * index.txt put after the zips; with a wrong secret key the sync fails, and neither the log, /healthz nor the
 * recorded error shows the access key id or the secret.
 */
const KEY_ID = "TRACELETTESTKEYID01";
const SECRET = "tracelet-test-secret-key-0123456789abcdef";
const BUCKET = "tracelet-exports";

describeEachBackend("export bucket for a CDN (S3-compatible)", (backend: Backend) => {
  let dir: string;
  let s3: InstanceType<typeof S3rver>;
  let proxy: SigV4Proxy;
  let t: TestAuthority | undefined;
  let direct: S3Client;
  const env = { ...process.env };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-export-s3-"));
    s3 = new S3rver({
      port: 0,
      address: "127.0.0.1",
      silent: true,
      directory: dir,
      configureBuckets: [{ name: BUCKET }],
    });
    const { port } = await s3.run();
    // s3rver learns our access key id (it checks only that one exists); the proxy checks the signatures.
    s3rverAccount.DUMMY_ACCOUNT.createKeyPair(KEY_ID, SECRET);
    proxy = await startSigV4Proxy(`http://127.0.0.1:${port}`, new Map([[KEY_ID, SECRET]]));
    direct = new S3Client({
      region: "us-east-1",
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    });
    process.env.AWS_ACCESS_KEY_ID = KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = SECRET;
  });
  afterEach(async () => {
    process.env = { ...env };
    await t?.close();
    t = undefined;
    direct.destroy();
    await proxy.close();
    await s3.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = () =>
    startTestAuthority(
      {
        rateLimits: { enabled: false },
        exports: {
          minRecords: 0,
          s3: { bucket: BUCKET, endpoint: proxy.url, forcePathStyle: true, prefix: "phones/" },
        },
      },
      testDb(backend),
    );

  async function publish(a: TestAuthority, days: number): Promise<void> {
    const keys = makeKeys(days);
    const c = await certify(a, keys);
    expect((await call(a, "POST", "/v1/publish", { json: publishBody(keys, c.certificate, c.hmacKey) })).status).toBe(
      200,
    );
  }

  async function object(key: string): Promise<{ body: Buffer; type?: string; cache?: string }> {
    const r = await direct.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return {
      body: Buffer.from(await r.Body!.transformToByteArray()),
      type: r.ContentType,
      cache: r.CacheControl,
    };
  }

  test("the bucket holds what /v1/exports/* answers, under the same paths, index.txt last", async () => {
    t = await start();
    await publish(t, 3);
    await publish(t, 2);
    t.clock.ms += 3600 * 1000;
    await t.app.runPendingWork();
    expect(t.app.exportBucket?.lastError).toBeNull();
    expect(proxy.rejected).toEqual([]);

    const index = await call(t, "GET", "/v1/exports/index.txt");
    const names = index.text.split("\n").filter(Boolean);
    expect(names.length).toBeGreaterThanOrEqual(1);
    const listed = await direct.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "phones/" }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(
      [
        "phones/v1/exports/index.txt",
        "phones/v1/exports/signing-key.pem",
        "phones/v1/exports/signing-keys.json",
        ...names.map((n) => "phones/" + n),
      ].sort(),
    );
    const idx = await object("phones/v1/exports/index.txt");
    expect(idx.body.toString("utf8")).toBe(index.text);
    expect(idx.type).toBe("text/plain; charset=utf-8");
    for (const n of names) {
      const api = await call(t, "GET", "/" + n);
      const o = await object("phones/" + n);
      expect(o.body.equals(api.buffer)).toBe(true);
      expect(o.type).toBe("application/zip");
    }
    const pem = await call(t, "GET", "/v1/exports/signing-key.pem");
    expect((await object("phones/v1/exports/signing-key.pem")).body.toString("utf8")).toBe(pem.text);
    const keys = await call(t, "GET", "/v1/exports/signing-keys.json");
    const keysObject = await object("phones/v1/exports/signing-keys.json");
    expect(keysObject.body.toString("utf8")).toBe(keys.text);
    expect(keysObject.type).toBe("application/json");

    // index.txt is put after every zip it names.
    const puts = proxy.requests.filter((r) => r.method === "PUT").map((r) => r.path.split("/").pop()!);
    const lastIndex = puts.lastIndexOf("index.txt");
    for (const n of names) expect(puts.indexOf(n.split("/").pop()!)).toBeLessThan(lastIndex);

    // Nothing changed: the next pass uploads nothing; a later window adds its zip and a new index.
    const before = proxy.requests.filter((r) => r.method === "PUT").length;
    await t.app.runPendingWork();
    expect(proxy.requests.filter((r) => r.method === "PUT").length).toBe(before);
    await publish(t, 1);
    t.clock.ms += 3600 * 1000;
    await t.app.runPendingWork();
    const more = (await call(t, "GET", "/v1/exports/index.txt")).text;
    expect((await object("phones/v1/exports/index.txt")).body.toString("utf8")).toBe(more);
    expect(more.split("\n").filter(Boolean).length).toBeGreaterThan(names.length);
  });

  test("a wrong secret key fails the sync; no credential appears in the log, the error or /healthz", async () => {
    process.env.AWS_SECRET_ACCESS_KEY = "not-the-secret-" + SECRET;
    t = await start();
    await publish(t, 2);
    t.clock.ms += 3600 * 1000;
    await t.app.runPendingWork();
    expect(proxy.rejected.length).toBeGreaterThan(0);
    const error = t.app.exportBucket?.lastError ?? "";
    expect(error).toMatch(/SignatureDoesNotMatch|signature/i);
    const failure = t.logs.find((l) => l.includes("cannot write the export bucket s3://tracelet-exports/phones/"));
    expect(failure).toBeDefined();
    const health = await call(t, "GET", "/healthz");
    expect(health.json.exportBucket).toEqual({ ok: false });
    for (const text of [error, t.logs.join("\n"), health.text]) {
      expect(text).not.toContain(KEY_ID);
      expect(text).not.toContain(SECRET);
    }
    // The right key again: the next pass catches up.
    process.env.AWS_SECRET_ACCESS_KEY = SECRET;
    await t.close();
    t = await start();
    await t.app.runPendingWork();
    expect(t.app.exportBucket?.lastError).toBeNull();
  });
});

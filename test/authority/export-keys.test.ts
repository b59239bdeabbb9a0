import { createPublicKey } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseConfig } from "../../host-tools/src/authority/config";
import {
  addExportKey,
  describeExportKeys,
  removeExportKey,
  retireExportKey,
} from "../../host-tools/src/authority/export/signing-keys";
import { generateSecretsFile, SecretsFile, secretsFromFile } from "../../host-tools/src/authority/secrets";
import { runCli } from "../helpers/cli";
import { Backend, describeEachBackend, dropPostgres } from "../postgres";
import { call, certify, makeKeys, publishBody, startTestAuthority, TestAuthority } from "./helpers";
import { readExportSignatures, readExportZip } from "./independent-export";

/**
 * Issue 20: export signing key rotation. A new key signs beside the old one during the overlap (two signatures per
 * file), then alone once the old one is retired; the old public key stays published, so the files it signed still
 * verify. Checked with the independent export reader (test/authority/independent-export.ts).
 */

const pemOf = (s: SecretsFile, version: string) =>
  describeExportKeys(s, "v1").find((k) => k.version === version)!.publicKey;

async function publishAndBatch(t: TestAuthority): Promise<string[]> {
  const before = await listed(t);
  const keys = makeKeys(2);
  const c = await certify(t, keys);
  expect((await call(t, "POST", "/v1/publish", { json: publishBody(keys, c.certificate, c.hmacKey) })).status).toBe(
    200,
  );
  t.clock.ms += 3600 * 1000;
  await t.app.runPendingWork();
  const now = await listed(t);
  expect(now.slice(0, before.length)).toEqual(before);
  return now.slice(before.length);
}

async function listed(t: TestAuthority): Promise<string[]> {
  return (await call(t, "GET", "/v1/exports/index.txt")).text.split("\n").filter(Boolean);
}

async function zipOf(t: TestAuthority, name: string): Promise<Buffer> {
  const r = await call(t, "GET", "/" + name);
  expect(r.status).toBe(200);
  return r.buffer;
}

describeEachBackend("export signing key rotation", (backend: Backend) => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-export-keys-"));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("add: files carry both signatures; retire: the new key alone; old files still verify with the old key", async () => {
    const config = { rateLimits: { enabled: false }, exports: { minRecords: 0, keyId: "TL" } };
    const s0 = generateSecretsFile();
    let t = await startTestAuthority(config, backend === "postgres" ? "postgres" : path.join(dir, "a.db"), s0);
    const db = t.db;
    // A restart of the node with an edited secrets file, the clock carried over.
    const restart = async (s: SecretsFile) => {
      const ms = t.clock.ms;
      await t.server.close();
      await t.store.close();
      t = await startTestAuthority(config, db, s);
      t.clock.ms = ms;
    };
    try {
      const v1 = pemOf(s0, "v1");
      const before = await publishAndBatch(t);
      expect(before).toHaveLength(1);

      const s1 = addExportKey(s0, "v2", "v1");
      const v2 = pemOf(s1, "v2");
      expect(v2).not.toBe(v1);
      await restart(s1);
      const overlap = await publishAndBatch(t);
      expect(overlap).toHaveLength(1);

      const s2 = retireExportKey(s1, "v1", "v1");
      await restart(s2);
      const after = await publishAndBatch(t);
      expect(after).toHaveLength(1);

      // Before the rotation: one signature, v1's, which v2's public key does not verify.
      const a = await readExportSignatures(await zipOf(t, before[0]));
      expect(a.signatures.map((s) => [s.keyId, s.keyVersion])).toEqual([["TL", "v1"]]);
      expect(a.verifies(a.signatures[0], v1)).toBe(true);
      expect(a.verifies(a.signatures[0], v2)).toBe(false);
      // The overlap: export.bin names both keys, export.sig holds a valid signature by each.
      const b = await readExportSignatures(await zipOf(t, overlap[0]));
      expect(b.infos.map((i) => i.keyVersion)).toEqual(["v1", "v2"]);
      expect(b.signatures.map((s) => [s.keyId, s.keyVersion, s.batchNum, s.batchSize])).toEqual([
        ["TL", "v1", 1, 1],
        ["TL", "v2", 1, 1],
      ]);
      expect(b.verifies(b.signatures[0], v1)).toBe(true);
      expect(b.verifies(b.signatures[1], v2)).toBe(true);
      expect(b.verifies(b.signatures[1], v1)).toBe(false);
      // After retiring v1: v2's signature alone.
      const c = await readExportSignatures(await zipOf(t, after[0]));
      expect(c.signatures.map((s) => s.keyVersion)).toEqual(["v2"]);
      expect(c.verifies(c.signatures[0], v2)).toBe(true);
      expect(c.verifies(c.signatures[0], v1)).toBe(false);
      // The single-signature reader agrees (and decodes the keys) for the files before and after.
      expect((await readExportZip(await zipOf(t, before[0]), v1)).signatureValid).toBe(true);
      expect((await readExportZip(await zipOf(t, after[0]), v2)).signatureValid).toBe(true);

      // Published: signing-key.pem is the current key, signing-keys.json every key, never a private one.
      const pem = await call(t, "GET", "/v1/exports/signing-key.pem");
      expect(pem.text).toBe(v2);
      const json = await call(t, "GET", "/v1/exports/signing-keys.json");
      expect(json.status).toBe(200);
      expect(json.json.keyId).toBe("TL");
      expect(json.json.keys.map((k: { version: string; signing: boolean; current: boolean }) => k)).toMatchObject([
        { version: "v1", signing: false, current: false, publicKey: v1 },
        { version: "v2", signing: true, current: true, publicKey: v2 },
      ]);
      expect(json.text).not.toContain("PRIVATE");
      for (const k of json.json.keys) expect(createPublicKey(k.publicKey).asymmetricKeyType).toBe("ec");
    } finally {
      await t.close();
      if (backend === "postgres") await dropPostgres(db);
    }
  });
});

describe("export keys in the secrets file", () => {
  const config = parseConfig({});
  test("a single exportSigningKey is the signing key v1 (or the config's keyVersion)", () => {
    const s = generateSecretsFile();
    expect(secretsFromFile(s, config).exportKeys.map((k) => [k.version, k.signing])).toEqual([["v1", true]]);
    const v7 = parseConfig({ exports: { keyVersion: "v7" } });
    expect(secretsFromFile(s, v7).exportKeys.map((k) => k.version)).toEqual(["v7"]);
    // Adding to such a file keeps the old key under that version.
    const added = addExportKey(s, "v8", "v7");
    expect(added.exportSigningKey).toBeUndefined();
    expect(added.exportSigningKeys!.map((k) => [k.version, k.signing])).toEqual([
      ["v7", true],
      ["v8", true],
    ]);
    expect(added.exportSigningKeys![0].key).toBe(s.exportSigningKey);
    const loaded = secretsFromFile(added, config);
    expect(loaded.exportKeys.map((k) => k.version)).toEqual(["v7", "v8"]);
    // The current key (signing-key.pem) is the newest signing one.
    expect(loaded.exportPublicKey.equals(loaded.exportKeys[1].publicKey)).toBe(true);
  });

  test("refusals name the problem", () => {
    const s = generateSecretsFile();
    const two = addExportKey(s, "v2", "v1");
    expect(() => addExportKey(two, "v2", "v1")).toThrow('already holds export key version "v2"');
    expect(() => addExportKey(two, "", "v1")).toThrow("key version");
    expect(() => addExportKey(two, "v 3", "v1")).toThrow("printable ASCII without spaces");
    expect(() => retireExportKey(s, "v1", "v1")).toThrow("only signing key");
    expect(() => retireExportKey(two, "v9", "v1")).toThrow('holds no export key version "v9"');
    expect(() => removeExportKey(two, "v1", "v1")).toThrow("retire it first");
    const retired = retireExportKey(two, "v1", "v1");
    expect(() => retireExportKey(retired, "v1", "v1")).toThrow("already retired");
    expect(() => retireExportKey(retired, "v2", "v1")).toThrow("only signing key");
    expect(removeExportKey(retired, "v1", "v1").exportSigningKeys!.map((k) => k.version)).toEqual(["v2"]);
    // Files the nodes refuse to load.
    expect(() => secretsFromFile({ ...two, exportSigningKey: s.exportSigningKey }, config)).toThrow(
      "both exportSigningKey and exportSigningKeys",
    );
    const { exportSigningKey: _k, ...none } = s;
    expect(() => secretsFromFile(none, config)).toThrow("exportSigningKey (or exportSigningKeys) is missing");
    const noSigner = { ...two, exportSigningKeys: two.exportSigningKeys!.map((k) => ({ ...k, signing: false })) };
    expect(() => secretsFromFile(noSigner, config)).toThrow("no key in exportSigningKeys is signing");
    const dup = { ...two, exportSigningKeys: two.exportSigningKeys!.map((k) => ({ ...k, version: "v1" })) };
    expect(() => secretsFromFile(dup, config)).toThrow('holds version "v1" twice');
    const bad = { ...two, exportSigningKeys: [{ version: "v1", key: "not a key", signing: true }] };
    expect(() => secretsFromFile(bad, config)).toThrow("exportSigningKeys[0].key is not a PEM private key");
    expect(() => secretsFromFile(two, parseConfig({ exports: { keyVersion: "v1" } }))).toThrow(
      "remove exports.keyVersion from the config",
    );
  });
});

describe("tracelet authority export-keys", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-export-keys-cli-"));
    file = path.join(dir, "secrets.json");
    fs.writeFileSync(file, JSON.stringify(generateSecretsFile()), { mode: 0o600 });
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const keys = (...args: string[]) => runCli(["authority", "export-keys", ...args, "--secrets", file]);
  const privateKeys = () => (fs.readFileSync(file, "utf8").match(/BEGIN PRIVATE KEY/g) ?? []).length;

  test("add, retire and remove edit the file (mode 0600) and print public facts only", () => {
    const added = keys("add", "--key-version", "v2", "--public-out", path.join(dir, "v2.pem"), "--json");
    expect(added.status).toBe(0);
    const out = JSON.parse(added.stdout);
    expect(out.keys.map((k: { version: string; signing: boolean }) => [k.version, k.signing])).toEqual([
      ["v1", true],
      ["v2", true],
    ]);
    expect(fs.readFileSync(path.join(dir, "v2.pem"), "utf8")).toBe(out.keys[1].publicKey);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(privateKeys()).toBe(3); // the certificate key, v1 and v2
    expect(added.stdout + added.stderr).not.toContain("PRIVATE");
    expect(keys("retire", "--key-version", "v1").status).toBe(0);
    const list = keys("list");
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/v1 +retired/);
    expect(list.stdout).toMatch(/v2 +signing, current/);
    expect(keys("remove", "--key-version", "v1").status).toBe(0);
    expect(privateKeys()).toBe(2);
    const loaded = secretsFromFile(JSON.parse(fs.readFileSync(file, "utf8")), parseConfig({}));
    expect(loaded.exportKeys.map((k) => k.version)).toEqual(["v2"]);
    expect(loaded.exportPublicKey.export({ type: "spki", format: "pem" })).toBe(out.keys[1].publicKey);
  });

  test("refusals are one line with a named exit code, and leave the file as it was", () => {
    const before = fs.readFileSync(file, "utf8");
    const r = keys("retire", "--key-version", "v1");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("only signing key");
    expect(keys("add", "--key-version", "v1").stderr).toContain('already holds export key version "v1"');
    expect(fs.readFileSync(file, "utf8")).toBe(before);
    fs.chmodSync(file, 0o644);
    const open = keys("list");
    expect(open.status).toBe(3);
    expect(open.stderr).toContain("readable by group or others");
    const missing = runCli(["authority", "export-keys", "list"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("--secrets");
  });
});

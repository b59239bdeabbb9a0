import { spawnSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { AuthorityApp } from "../../host-tools/src/authority/app";
import { parseConfig } from "../../host-tools/src/authority/config";
import { generateSecretsFile, secretsFromFile } from "../../host-tools/src/authority/secrets";
import { startServer } from "../../host-tools/src/authority/server";
import { SqliteStore } from "../../host-tools/src/authority/store/sqlite";

const haveOpenssl = spawnSync("openssl", ["version"]).status === 0;

/** The server terminates TLS itself when given a certificate and key (--tls-cert/--tls-key). */
(haveOpenssl ? test : test.skip)("serves HTTPS with a given certificate and key", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-tls-"));
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  const r = spawnSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
  ]);
  expect(r.status).toBe(0);
  const config = parseConfig({});
  const store = new SqliteStore(":memory:");
  const app = new AuthorityApp({
    config,
    secrets: secretsFromFile(generateSecretsFile(), config),
    store,
    log: () => undefined,
  });
  const server = await startServer(app, { host: "127.0.0.1", port: 0, tls: { certFile, keyFile } });
  try {
    expect(server.url).toMatch(/^https:\/\//);
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(server.url + "/healthz", { ca: fs.readFileSync(certFile) }, (res) => {
          let s = "";
          res.on("data", (c) => (s += c));
          res.on("end", () => resolve(s));
        })
        .on("error", reject);
    });
    expect(JSON.parse(body)).toMatchObject({ ok: true });
  } finally {
    await server.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

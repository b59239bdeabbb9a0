import { createHash, createHmac } from "crypto";
import * as http from "http";
import { AddressInfo } from "net";

/**
 * An HTTP proxy in front of a local S3-compatible server (s3rver, which checks only that the access key id
 * exists) that verifies each request's AWS Signature Version 4, written here from the specification rather
 * than with the SDK's signer: the canonical request, the string to sign, the derived signing key, and the
 * payload's SHA-256 against x-amz-content-sha256. A request that fails is answered 403 SignatureDoesNotMatch
 * and not forwarded. `requests` records what was forwarded, in order.
 */
export interface SigV4Proxy {
  url: string;
  requests: { method: string; path: string }[];
  rejected: string[];
  close(): Promise<void>;
}

const enc = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

export function verifySigV4(
  req: { method: string; url: string; headers: http.IncomingHttpHeaders },
  body: Buffer,
  keys: Map<string, string>,
): string | null {
  const auth = String(req.headers.authorization ?? "");
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return "no SigV4 authorization header";
  const [, keyId, date, region, service, signedHeaders, signature] = m;
  const secret = keys.get(keyId);
  if (secret === undefined) return "unknown access key id";
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  if (!amzDate.startsWith(date)) return "x-amz-date does not match the credential scope";
  const payloadHash = String(req.headers["x-amz-content-sha256"] ?? "");
  if (payloadHash !== "UNSIGNED-PAYLOAD" && payloadHash !== createHash("sha256").update(body).digest("hex"))
    return "payload hash mismatch";
  const [rawPath, rawQuery = ""] = req.url.split("?");
  const query = rawQuery
    .split("&")
    .filter(Boolean)
    .map((kv) => {
      const [k, v = ""] = kv.split("=");
      return [enc(decodeURIComponent(k)), enc(decodeURIComponent(v))];
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const names = signedHeaders.split(";");
  if (!names.includes("host")) return "host is not signed";
  const headers = names
    .map(
      (h) =>
        `${h}:${String(req.headers[h] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const canonical = [req.method, rawPath, query, headers, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  let k: Buffer = createHmac("sha256", "AWS4" + secret)
    .update(date)
    .digest();
  for (const part of [region, service, "aws4_request"]) k = createHmac("sha256", k).update(part).digest();
  const expected = createHmac("sha256", k).update(toSign).digest("hex");
  return expected === signature ? null : "signature mismatch";
}

export async function startSigV4Proxy(target: string, keys: Map<string, string>): Promise<SigV4Proxy> {
  const requests: { method: string; path: string }[] = [];
  const rejected: string[] = [];
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const why = verifySigV4({ method: req.method!, url: req.url!, headers: req.headers }, body, keys);
      if (why) {
        rejected.push(`${req.method} ${req.url}: ${why}`);
        res.writeHead(403, { "content-type": "application/xml" });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>' +
            "<Message>The request signature we calculated does not match the signature you provided.</Message></Error>",
        );
        return;
      }
      requests.push({ method: req.method!, path: req.url!.split("?")[0] });
      const fwd = http.request(
        { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      fwd.on("error", () => {
        res.writeHead(502);
        res.end();
      });
      fwd.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    rejected,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

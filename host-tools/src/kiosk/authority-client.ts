import { createPublicKey, KeyObject, randomBytes, randomInt } from "crypto";
import { z } from "zod";
import type { BandHealth } from "../authority/bands";
import { computeLogmac, computeTekmac, MacKey } from "../authority/crypto/tekmac";
import { RegistryBandSchema } from "./registry-file";

/**
 * The kiosk's side of the health authority's HTTP API (docs/authority.md): the band registry with sync keys,
 * code verification, certificates, publishing diagnosis keys, uploading a positive band's log, and the public
 * export files. Node 20's fetch; every call has a timeout.
 *
 * Every failure is an AuthorityError whose message names the request and the server's answer but never an
 * API key, verification code, token, certificate, HMAC key or key material (they are scrubbed even if a
 * server were to echo them).
 */

/** A failed call. `retryable`: the same call may succeed later (network, timeout, 5xx, 429). */
export class AuthorityError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when no answer arrived (network error, timeout). */
    readonly status: number,
    /** The server's snake_case `code`, or `network_error`, `timeout`, `bad_response`, `http_<status>`. */
    readonly code: string,
    readonly retryable: boolean,
    /** From Retry-After (429, 503), milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "AuthorityError";
  }
}

export interface AuthorityClientOptions {
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof fetch;
  /** Per request, milliseconds (default 15000). */
  timeoutMs?: number;
  /** `healthAuthorityID` sent with a publish (the server's config `healthAuthorityId`; default "tracelet"). */
  healthAuthorityId?: string;
}

/** A diagnosis key (TEK) as a band hands it to the kiosk. `key`: 16 bytes, or their base64. */
export interface DiagnosisKey {
  key: Uint8Array | string;
  rollingStartNumber: number;
  rollingPeriod: number;
  transmissionRisk?: number;
}

export type TestType = "confirmed" | "likely" | "negative";

const KioskBand = RegistryBandSchema.extend({
  escrow: z.boolean(),
  registeredAt: z.string(),
});

const RegisterAnswer = z.object({ status: z.string() }).passthrough();

const KioskBandsAnswer = z.object({
  bands: z.array(KioskBand),
  deleted: z.array(z.string().regex(/^[0-9a-fA-F]{16}$/)),
  asOf: z.string(),
});

export type KioskBands = z.infer<typeof KioskBandsAnswer>;

const VerifyAnswer = z.object({
  testtype: z.enum(["confirmed", "likely", "negative"]),
  symptomDate: z.string().optional(),
  testDate: z.string().optional(),
  token: z.string().min(1),
  expiresAt: z.string().optional(),
});

export interface Verified {
  token: string;
  testType: TestType;
  symptomDate?: string;
  testDate?: string;
  expiresAt?: string;
}

const CertificateAnswer = z.object({ certificate: z.string().min(1), expiresAt: z.string().optional() });

export interface Certificate {
  certificate: string;
  expiresAt?: string;
}

const PublishAnswer = z.object({
  revisionToken: z.string(),
  insertedExposures: z.number(),
  revisedExposures: z.number(),
  warnings: z.array(z.string()).optional(),
});

export interface Published {
  revisionToken: string;
  insertedExposures: number;
  revisedExposures: number;
  warnings: string[];
  /** Keys in the request. */
  keyCount: number;
  /** Characters of the `padding` field sent. */
  paddingBytes: number;
  /** Size of the whole request body. */
  bodyBytes: number;
}

export interface PublishOptions {
  symptomOnsetInterval?: number;
  traveler?: boolean;
  /** From an earlier publish of (some of) these keys, to revise them. */
  revisionToken?: string;
}

const BandLogAnswer = z.object({
  logId: z.number(),
  sha256: z.string(),
  bandId: z.string(),
  segments: z.number(),
  records: z.number(),
  duplicate: z.boolean(),
  resolution: z.string(),
});

export type BandLogUploaded = z.infer<typeof BandLogAnswer>;

/**
 * A publish body is padded to PUBLISH_BODY_TARGET plus up to PUBLISH_BODY_JITTER random bytes, so its size
 * does not reveal how many keys it carries (a 21-key body with certificate and revision token is below the
 * target; the server accepts up to 64 KiB).
 */
export const PUBLISH_BODY_TARGET = 6144;
export const PUBLISH_BODY_JITTER = 1024;

const EXPORT_NAME = /^(?:v1\/exports\/)?(\d{1,12}-\d{1,12}-\d{5}\.zip)$/;

export class AuthorityClient {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly healthAuthorityId: string;

  constructor(
    baseUrl: string,
    private readonly kioskApiKey: string,
    options: AuthorityClientOptions = {},
  ) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new TypeError("AuthorityClient: baseUrl is not a URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError("AuthorityClient: baseUrl must be http: or https:");
    }
    if (url.username || url.password || url.search || url.hash) {
      throw new TypeError("AuthorityClient: baseUrl must not carry credentials, a query or a fragment");
    }
    if (typeof kioskApiKey !== "string" || kioskApiKey.length === 0) {
      throw new TypeError("AuthorityClient: a kiosk API key is required");
    }
    this.base = url.origin + url.pathname.replace(/\/+$/, "");
    this.fetchFn = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 15000;
    this.healthAuthorityId = options.healthAuthorityId ?? "tracelet";
  }

  /**
   * GET /api/kiosk/bands: every band with its sync key, or (with `since`, the previous answer's asOf) those
   * changed since then plus the band ids to forget. Band ids and keys are lowercase hex.
   */
  async bands(since?: string | number | Date): Promise<KioskBands> {
    let query = "";
    if (since !== undefined) {
      const value = since instanceof Date ? String(since.getTime()) : String(since);
      query = "?since=" + encodeURIComponent(value);
    }
    const r = await this.json("GET", "/api/kiosk/bands" + query, KioskBandsAnswer, { apiKey: true });
    return {
      bands: r.bands.map((b) => ({ ...b, bandId: b.bandId.toLowerCase(), syncKey: b.syncKey.toLowerCase() })),
      deleted: r.deleted.map((d) => d.toLowerCase()),
      asOf: r.asOf,
    };
  }

  /**
   * POST /api/bands (the flasher's role): registers a freshly provisioned band with its sync key and, in escrow
   * deployments, its escrow secret. Both are secrets: never in an error message.
   */
  async registerBand(body: {
    bandId: string;
    board: string;
    syncKey: string;
    escrowSecret?: string;
    replace?: boolean;
  }): Promise<{ status: string }> {
    const secrets = [body.syncKey, body.escrowSecret ?? ""].filter((x) => x);
    return this.json("POST", "/api/bands", RegisterAnswer, { apiKey: true, body, secrets });
  }

  /** GET /api/bands/:id: whether the registry has this band id (the flasher never reuses one). */
  async bandRegistered(bandId: string): Promise<boolean> {
    try {
      await this.json("GET", "/api/bands/" + encodeURIComponent(bandId), z.object({}).passthrough(), { apiKey: true });
      return true;
    } catch (e) {
      if (e instanceof AuthorityError && e.status === 404) return false;
      throw e;
    }
  }

  /** POST /api/verify: a health worker's code for a token. `accept` limits the test types taken. */
  async verifyCode(code: string, accept?: readonly TestType[]): Promise<Verified> {
    const body: Record<string, unknown> = { code };
    if (accept) body.accept = accept;
    const r = await this.json("POST", "/api/verify", VerifyAnswer, { apiKey: true, body, secrets: [code] });
    return {
      token: r.token,
      testType: r.testtype,
      symptomDate: r.symptomDate,
      testDate: r.testDate,
      expiresAt: r.expiresAt,
    };
  }

  /**
   * POST /api/certificate: the token for a certificate bound to `ekeyhmac` (computeEkeyhmac) and, to upload a
   * log with it, `logmac` (computeLogmacFor). Bytes or their base64.
   */
  async certificate(token: string, ekeyhmac: Uint8Array | string, logmac?: Uint8Array | string): Promise<Certificate> {
    const body: Record<string, string> = { token, ekeyhmac: b64(ekeyhmac) };
    if (logmac !== undefined) body.logmac = b64(logmac);
    const r = await this.json("POST", "/api/certificate", CertificateAnswer, {
      apiKey: true,
      body,
      secrets: [token, body.ekeyhmac, body.logmac ?? ""],
    });
    return { certificate: r.certificate, expiresAt: r.expiresAt };
  }

  /**
   * POST /v1/publish: the keys with their certificate and the hmacKey the certificate's ekeyhmac was made with.
   * The body gets a random base64 `padding` bringing it to PUBLISH_BODY_TARGET + random jitter.
   */
  async publish(
    keys: readonly DiagnosisKey[],
    certificate: string,
    hmacKey: Uint8Array,
    options: PublishOptions = {},
  ): Promise<Published> {
    const macKeys = toMacKeys(keys);
    checkHmacKey(hmacKey);
    const hmacKeyText = Buffer.from(hmacKey).toString("base64");
    const unpadded: Record<string, unknown> = {
      temporaryExposureKeys: macKeys.map((k) => ({
        key: k.key,
        rollingStartNumber: k.rollingStartNumber,
        rollingPeriod: k.rollingPeriod,
        ...(k.transmissionRisk !== undefined ? { transmissionRisk: k.transmissionRisk } : {}),
      })),
      healthAuthorityID: this.healthAuthorityId,
      verificationPayload: certificate,
      hmacKey: hmacKeyText,
      ...(options.symptomOnsetInterval !== undefined ? { symptomOnsetInterval: options.symptomOnsetInterval } : {}),
      ...(options.traveler !== undefined ? { traveler: options.traveler } : {}),
      ...(options.revisionToken !== undefined ? { revisionToken: options.revisionToken } : {}),
    };
    const padding = paddingFor(Buffer.byteLength(JSON.stringify(unpadded)));
    const text = JSON.stringify({ ...unpadded, padding });
    const r = await this.json("POST", "/v1/publish", PublishAnswer, {
      rawBody: text,
      secrets: [certificate, hmacKeyText, options.revisionToken ?? "", ...macKeys.map((k) => k.key)],
    });
    return {
      revisionToken: r.revisionToken,
      insertedExposures: r.insertedExposures,
      revisedExposures: r.revisedExposures,
      warnings: r.warnings ?? [],
      keyCount: macKeys.length,
      paddingBytes: padding.length,
      bodyBytes: Buffer.byteLength(text),
    };
  }

  /**
   * POST /v1/band-logs: a positive band's TLX v3 export, authorised by a certificate issued with its logmac.
   * `keys` (the keys published with this certificate) go in X-Tracelet-Keys; escrow deployments need them.
   */
  async uploadBandLog(
    tlx: Uint8Array,
    certificate: string,
    hmacKey: Uint8Array,
    keys?: readonly DiagnosisKey[],
  ): Promise<BandLogUploaded> {
    checkHmacKey(hmacKey);
    const hmacKeyText = Buffer.from(hmacKey).toString("base64");
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      authorization: "Bearer " + certificate,
      "x-tracelet-hmac-key": hmacKeyText,
    };
    const macKeys = keys ? toMacKeys(keys) : [];
    if (keys) headers["x-tracelet-keys"] = keysHeader(macKeys);
    return this.json("POST", "/v1/band-logs", BandLogAnswer, {
      rawBody: Buffer.from(tlx.buffer, tlx.byteOffset, tlx.byteLength),
      headers,
      secrets: [certificate, hmacKeyText, headers["x-tracelet-keys"] ?? "", ...macKeys.map((k) => k.key)],
    });
  }

  /**
   * POST /api/kiosk/bands/:id/health: what the band's STATUS frame said at a sync (its fault and reset counters
   * are totals, so the latest report is the whole story). False when the registry has no such band.
   */
  async reportBandHealth(bandId: string, report: BandHealth): Promise<boolean> {
    try {
      await this.json("POST", `/api/kiosk/bands/${encodeURIComponent(bandId)}/health`, z.object({}).passthrough(), {
        apiKey: true,
        body: report,
      });
      return true;
    } catch (e) {
      if (e instanceof AuthorityError && e.status === 404) return false;
      throw e;
    }
  }

  /** GET /v1/exports/index.txt: the export files' names (`v1/exports/<start>-<end>-<batch>.zip`), oldest first. */
  async exportIndex(): Promise<string[]> {
    const text = (await this.request("GET", "/v1/exports/index.txt", {})).toString("utf8");
    const names = text.split("\n").filter((l) => l.trim() !== "");
    for (const n of names) {
      if (!EXPORT_NAME.test(n)) {
        throw new AuthorityError(
          "GET /v1/exports/index.txt: the index lists a name that is not an export file",
          200,
          "bad_response",
          false,
        );
      }
    }
    return names;
  }

  /** GET one export file (a name from exportIndex, with or without `v1/exports/`): the zip's bytes. */
  async exportFile(name: string): Promise<Buffer> {
    const m = EXPORT_NAME.exec(name);
    if (!m) throw new RangeError(`not an export file name: ${JSON.stringify(name.slice(0, 80))}`);
    return this.request("GET", "/v1/exports/" + m[1], {});
  }

  /** GET /v1/exports/signing-key.pem: the key export signatures verify with (ECDSA P-256). */
  async signingKey(): Promise<KeyObject> {
    const pem = (await this.request("GET", "/v1/exports/signing-key.pem", {})).toString("utf8");
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch {
      throw new AuthorityError(
        "GET /v1/exports/signing-key.pem: the answer is not a PEM public key",
        200,
        "bad_response",
        false,
      );
    }
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      throw new AuthorityError(
        "GET /v1/exports/signing-key.pem: the export signing key is not ECDSA P-256",
        200,
        "bad_response",
        false,
      );
    }
    return key;
  }

  /** Computes `ekeyhmac` for these keys under `hmacKey` (docs/authority.md). */
  static computeEkeyhmac(keys: readonly DiagnosisKey[], hmacKey: Uint8Array): Buffer {
    return computeTekmac(toMacKeys(keys), hmacKey);
  }

  /** Computes `logmac` for a TLX body under `hmacKey` (docs/authority.md, Band logs). */
  static computeLogmacFor(tlx: Uint8Array, hmacKey: Uint8Array): Buffer {
    return computeLogmac(tlx, hmacKey);
  }

  // ---- transport

  private async json<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    o: {
      apiKey?: boolean;
      body?: unknown;
      rawBody?: string | Buffer;
      headers?: Record<string, string>;
      secrets?: string[];
    },
  ): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json", ...o.headers };
    let rawBody = o.rawBody;
    if (o.body !== undefined) rawBody = JSON.stringify(o.body);
    if (typeof rawBody === "string") headers["content-type"] ??= "application/json";
    const bytes = await this.request(method, path, { headers, body: rawBody, apiKey: o.apiKey, secrets: o.secrets });
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString("utf8"));
    } catch {
      throw new AuthorityError(`${method} ${pathOnly(path)}: the answer is not JSON`, 200, "bad_response", false);
    }
    const r = schema.safeParse(parsed);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new AuthorityError(
        `${method} ${pathOnly(path)}: unexpected answer (${i.path.map(String).join(".") || "body"}: ${i.message})`,
        200,
        "bad_response",
        false,
      );
    }
    return r.data;
  }

  private async request(
    method: string,
    path: string,
    o: { headers?: Record<string, string>; body?: string | Buffer; apiKey?: boolean; secrets?: string[] },
  ): Promise<Buffer> {
    const what = `${method} ${pathOnly(path)}`;
    const headers: Record<string, string> = { ...o.headers };
    if (o.apiKey) headers["x-api-key"] = this.kioskApiKey;
    const secrets = [this.kioskApiKey, ...(o.secrets ?? [])];
    let res: Response;
    let bytes: Buffer;
    const send = async () => {
      const r = await this.fetchFn(this.base + path, {
        method,
        headers,
        body: o.body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      return { r, b: Buffer.from(await r.arrayBuffer()) };
    };
    try {
      let got: { r: Response; b: Buffer };
      try {
        got = await send();
      } catch (e) {
        // A kept-alive connection the server closed while this process was busy fails at once: a GET (which
        // changes nothing) is sent once more on a fresh connection.
        const code = (e as { cause?: { code?: string } })?.cause?.code;
        if (method !== "GET" || !(code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "EPIPE")) throw e;
        got = await send();
      }
      res = got.r;
      bytes = got.b;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      if (err?.name === "TimeoutError" || err?.name === "AbortError") {
        throw new AuthorityError(`${what}: no answer within ${this.timeoutMs} ms`, 0, "timeout", true);
      }
      const cause = typeof err?.cause?.code === "string" ? err.cause.code : (err?.message ?? String(e));
      throw new AuthorityError(
        `${what}: cannot reach the authority (${scrub(cause, secrets)})`,
        0,
        "network_error",
        true,
      );
    }
    if (res.ok) return bytes;
    let code = `http_${res.status}`;
    let detail = "";
    try {
      const j = JSON.parse(bytes.toString("utf8")) as { code?: unknown; error?: unknown };
      if (typeof j.code === "string" && /^[a-z0-9_]{1,64}$/.test(j.code)) code = j.code;
      if (typeof j.error === "string") detail = j.error.slice(0, 300);
    } catch {
      detail = "";
    }
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
    const retryable = res.status >= 500 || res.status === 429;
    throw new AuthorityError(
      `${what}: ${res.status} ${code}${detail ? ": " + scrub(detail, secrets) : ""}`,
      res.status,
      code,
      retryable,
      retryAfterMs,
    );
  }
}

function toMacKeys(keys: readonly DiagnosisKey[]): MacKey[] {
  if (!Array.isArray(keys) || keys.length < 1 || keys.length > 21) {
    throw new RangeError("a publish takes 1 to 21 diagnosis keys");
  }
  return keys.map((k, i) => {
    const bytes = typeof k.key === "string" ? Buffer.from(k.key, "base64") : Buffer.from(k.key);
    if (bytes.length !== 16 || (typeof k.key === "string" && bytes.toString("base64") !== k.key)) {
      throw new RangeError(`diagnosis key ${i}: must be 16 bytes (or their base64)`);
    }
    if (!Number.isInteger(k.rollingStartNumber) || k.rollingStartNumber < 1) {
      throw new RangeError(`diagnosis key ${i}: rollingStartNumber must be a positive whole number`);
    }
    if (!Number.isInteger(k.rollingPeriod) || k.rollingPeriod < 1 || k.rollingPeriod > 144) {
      throw new RangeError(`diagnosis key ${i}: rollingPeriod must be 1 to 144`);
    }
    if (
      k.transmissionRisk !== undefined &&
      (!Number.isInteger(k.transmissionRisk) || k.transmissionRisk < 0 || k.transmissionRisk > 8)
    ) {
      throw new RangeError(`diagnosis key ${i}: transmissionRisk must be 0 to 8`);
    }
    return {
      key: bytes.toString("base64"),
      rollingStartNumber: k.rollingStartNumber,
      rollingPeriod: k.rollingPeriod,
      ...(k.transmissionRisk !== undefined ? { transmissionRisk: k.transmissionRisk } : {}),
    };
  });
}

function checkHmacKey(hmacKey: Uint8Array): void {
  if (!(hmacKey instanceof Uint8Array) || hmacKey.length < 16 || hmacKey.length > 128) {
    throw new RangeError("hmacKey must be 16 to 128 bytes");
  }
}

/** X-Tracelet-Keys: base64 of the JSON array of the keys published with the certificate. */
function keysHeader(keys: readonly MacKey[]): string {
  return Buffer.from(JSON.stringify(keys)).toString("base64");
}

/**
 * Random base64 that brings a body of `unpaddedBytes` to PUBLISH_BODY_TARGET + random jitter (the field
 * itself, `,"padding":""`, is 13 bytes). A body already past the target still gets the random jitter.
 */
function paddingFor(unpaddedBytes: number): string {
  const target = PUBLISH_BODY_TARGET + randomInt(0, PUBLISH_BODY_JITTER + 1);
  const room = Math.max(target - unpaddedBytes - 13, randomInt(16, PUBLISH_BODY_JITTER + 1));
  return randomBytes(Math.max(1, Math.floor((room * 3) / 4))).toString("base64");
}

function b64(v: Uint8Array | string): string {
  return typeof v === "string" ? v : Buffer.from(v).toString("base64");
}

function pathOnly(path: string): string {
  const q = path.indexOf("?");
  return q < 0 ? path : path.slice(0, q);
}

function parseRetryAfter(v: string | null): number | undefined {
  if (!v) return undefined;
  if (/^\d{1,6}$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * Removes from a server message anything that could be a secret: the values this call sent (API key, code,
 * token, certificate, HMAC key, keys) and any long base64, base64url or hex run.
 */
function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("[redacted]");
  return out.replace(/[A-Za-z0-9+/_.=-]{20,}/g, (m) => (/^[a-z_]+$/.test(m) ? m : "[redacted]"));
}

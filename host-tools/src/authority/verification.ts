import { KeyObject, randomBytes, randomInt, randomUUID, createHash } from "crypto";
import { z } from "zod";
import { AuthorityConfig } from "./config";
import { Actor } from "./crypto/api-keys";
import { decodeBase64Strict } from "./crypto/base64";
import { signJwt, verifyJwt } from "./crypto/jwt";
import { hashCode } from "./crypto/server-keys";
import { dayOfIsoDate, IsoDate, isoTime } from "./dates";
import { HttpError } from "./http/errors";
import { AuthorityStore, CodeRow, TestType } from "./store/store";

/**
 * The verification flow of google/exposure-notifications-verification-server, in one process:
 * a health worker (admin key) issues a short one-time code; the kiosk or app exchanges it for a token
 * (POST /api/verify) and the token plus an HMAC of the keys for an ES256 certificate (POST /api/certificate)
 * that the key server checks at publish. Codes are stored only as HMACs under a server subkey, tokens only as
 * SHA-256 hashes; both are single use and expire.
 */
export const IssueRequest = z.object({
  testType: z.enum(["confirmed", "likely", "negative"]).default("confirmed"),
  symptomDate: IsoDate.optional(),
  testDate: IsoDate.optional(),
});

export const VerifyRequest = z.object({
  code: z.string().min(1).max(64),
  /** Test types the client can handle (as in the reference API); the code's type must be one of them. */
  accept: z
    .array(z.enum(["confirmed", "likely", "negative"]))
    .max(3)
    .optional(),
});

const Mac32 = z
  .string()
  .max(100)
  .refine((s) => decodeBase64Strict(s)?.length === 32, "must be base64 of 32 bytes (HMAC-SHA256)");

export const CertificateRequest = z.object({
  token: z.string().min(1).max(200),
  ekeyhmac: Mac32,
  /** Tracelet extension: HMAC binding a band log (see tekmac.ts); needed to upload one with this certificate. */
  logmac: Mac32.optional(),
});

export interface CertificateClaims {
  jti: string;
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  reportType: TestType;
  symptomOnsetInterval?: number;
  testDateInterval?: number;
  tekmac: Buffer;
  logmac?: Buffer;
}

/** How far a date may be in the past; and the clock leeway for certificates. */
const MAX_DATE_AGE_DAYS = 28;
const LEEWAY_S = 60;

export class VerificationService {
  private readonly trustedKeys: Map<string, KeyObject>;

  constructor(
    private readonly store: AuthorityStore,
    private readonly config: AuthorityConfig,
    private readonly codeHashKey: Buffer,
    private readonly signingKey: KeyObject,
    publicKey: KeyObject,
  ) {
    this.trustedKeys = new Map([[config.verification.keyId, publicKey]]);
  }

  async issueCode(actor: Actor, body: z.infer<typeof IssueRequest>, now: number) {
    const today = Math.floor(now / 86400);
    for (const [field, value] of [
      ["symptomDate", body.symptomDate],
      ["testDate", body.testDate],
    ] as const) {
      if (value === undefined) continue;
      const d = dayOfIsoDate(value) as number;
      if (d > today + 1) throw new HttpError(400, "bad_request", `${field} is in the future`);
      if (d < today - MAX_DATE_AGE_DAYS)
        throw new HttpError(400, "bad_request", `${field} is more than ${MAX_DATE_AGE_DAYS} days ago`);
    }
    const v = this.config.verification;
    const expiresAt = now + v.codeTtlMinutes * 60;
    for (let attempt = 0; attempt < 10; attempt++) {
      const code = randomDigits(v.codeDigits);
      const uuid = randomUUID();
      const inserted = await this.store.insertCode({
        uuid,
        codeHash: hashCode(this.codeHashKey, code),
        testType: body.testType,
        symptomDate: body.symptomDate ?? null,
        testDate: body.testDate ?? null,
        issuedAt: now,
        expiresAt,
        issuedBy: actor.name,
      });
      if (inserted)
        return { code, uuid, testType: body.testType, expiresAt: isoTime(expiresAt), expiresAtTimestamp: expiresAt };
    }
    throw new Error("could not draw an unused verification code");
  }

  async verifyCode(body: z.infer<typeof VerifyRequest>, now: number) {
    const token = randomBytes(32).toString("base64url");
    const tokenExpiresAt = now + this.config.verification.tokenTtlMinutes * 60;
    const claim = await this.store.claimCode(
      hashCode(this.codeHashKey, body.code.trim()),
      now,
      tokenHash(token),
      tokenExpiresAt,
    );
    if (!claim.ok) {
      // One answer for unknown and used codes, so the endpoint does not reveal which codes exist.
      if (claim.reason === "expired") throw new HttpError(400, "code_expired", "verification code expired");
      throw new HttpError(400, "code_invalid", "verification code is invalid or was already used");
    }
    const code = claim.code;
    if (body.accept && !body.accept.includes(code.testType)) {
      throw new HttpError(
        412,
        "unsupported_test_type",
        `the code is for a ${code.testType} test, which the client does not accept`,
      );
    }
    return {
      testtype: code.testType,
      symptomDate: code.symptomDate ?? undefined,
      testDate: code.testDate ?? undefined,
      token,
      expiresAt: isoTime(tokenExpiresAt),
    };
  }

  async issueCertificate(body: z.infer<typeof CertificateRequest>, now: number) {
    const used = await this.store.useToken(tokenHash(body.token), now);
    if (!used.ok) {
      if (used.reason === "expired") throw new HttpError(400, "token_expired", "verification token expired");
      throw new HttpError(400, "token_invalid", "verification token is invalid or was already used");
    }
    const code: CodeRow = used.code;
    const v = this.config.verification;
    const claims: Record<string, unknown> = {
      iss: v.issuer,
      aud: v.audience,
      iat: now,
      nbf: now - LEEWAY_S,
      exp: now + v.certificateTtlMinutes * 60,
      jti: randomUUID(),
      reportType: code.testType,
      tekmac: body.ekeyhmac,
      trisk: [],
    };
    if (code.symptomDate) claims.symptomOnsetInterval = (dayOfIsoDate(code.symptomDate) as number) * 144;
    if (code.testDate) claims.testDateInterval = (dayOfIsoDate(code.testDate) as number) * 144;
    if (body.logmac) claims.logmac = body.logmac;
    return {
      certificate: await signJwt(claims, this.signingKey, v.keyId),
      expiresAt: isoTime(claims.exp as number),
      jti: claims.jti as string,
    };
  }

  /** Checks a certificate presented at publish or band-log upload; throws 401 with the reason. */
  async verifyCertificate(token: string, now: number): Promise<CertificateClaims> {
    const bad = (why: string) =>
      new HttpError(401, "health_authority_verification_certificate_invalid", `verification certificate ${why}`);
    const r = await verifyJwt(token, this.trustedKeys);
    if (!r.ok) throw bad(`rejected: ${r.error}`);
    const c = r.claims;
    const v = this.config.verification;
    if (c.iss !== v.issuer) throw bad("has the wrong issuer");
    const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
    if (!aud.includes(v.audience)) throw bad("has the wrong audience");
    if (typeof c.exp !== "number" || c.exp + LEEWAY_S < now) throw bad("has expired");
    if (typeof c.iat !== "number" || c.iat - LEEWAY_S > now) throw bad("is not valid yet");
    if (typeof c.nbf === "number" && c.nbf - LEEWAY_S > now) throw bad("is not valid yet");
    if (typeof c.jti !== "string" || c.jti.length < 8 || c.jti.length > 100) throw bad("has no id (jti)");
    const reportType = c.reportType ?? "confirmed";
    if (reportType !== "confirmed" && reportType !== "likely" && reportType !== "negative")
      throw bad("has an unknown reportType");
    const tekmac = typeof c.tekmac === "string" ? decodeBase64Strict(c.tekmac) : undefined;
    if (!tekmac || tekmac.length !== 32) throw bad("has no valid tekmac claim");
    let logmac: Buffer | undefined;
    if (c.logmac !== undefined) {
      logmac = typeof c.logmac === "string" ? decodeBase64Strict(c.logmac) : undefined;
      if (!logmac || logmac.length !== 32) throw bad("has an invalid logmac claim");
    }
    const interval = (x: unknown) => (Number.isInteger(x) && (x as number) >= 0 ? (x as number) : undefined);
    return {
      jti: c.jti,
      iss: c.iss as string,
      aud: v.audience,
      iat: c.iat,
      exp: c.exp,
      reportType,
      symptomOnsetInterval: interval(c.symptomOnsetInterval),
      testDateInterval: interval(c.testDateInterval),
      tekmac,
      logmac,
    };
  }
}

function randomDigits(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String(randomInt(10));
  return s;
}

function tokenHash(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

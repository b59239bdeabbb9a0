import { createHash } from "crypto";
import { IncomingHttpHeaders } from "http";
import { toHex } from "../../../firmware/src/protocol/bytes";
import { decodeLogExport } from "../../../firmware/src/protocol/record";
import { AuthorityConfig } from "./config";
import { decodeBase64Strict } from "./crypto/base64";
import { logmacMatches } from "./crypto/tekmac";
import { HttpError } from "./http/errors";
import { AuthorityStore } from "./store/store";
import { CertificateClaims, VerificationService } from "./verification";

/**
 * POST /v1/band-logs: the encounter log of a positive band, in the TLX export format (protocol/record.ts).
 *
 * Authorisation reuses the publish certificate: the kiosk asks /api/certificate for a certificate with both
 * `ekeyhmac` (its keys) and `logmac` = HMAC(hmacKey, "tracelet-band-log:" + hex SHA-256 of the TLX body), then
 * sends the body with `Authorization: Bearer <certificate>` and `X-Tracelet-Hmac-Key: <base64 hmacKey>`. The
 * server recomputes the logmac, so the certificate authorises this exact log and nothing else.
 * Logs are stored by content hash: the same log twice is stored once. A certificate authorises one upload;
 * replaying the identical request is answered as a duplicate, anything else with it is refused.
 */
export interface BandLogResult {
  logId: number;
  sha256: string;
  bandId: string;
  segments: number;
  records: number;
  duplicate: boolean;
  resolution: "pending" | "off";
  jti: string;
}

export interface BandLogAuth {
  cert: CertificateClaims;
  hmacKey: Buffer;
  logmac: Buffer;
}

export const BAND_LOG_TYPES = ["application/octet-stream", "application/x-tracelet-log"];

export class BandLogService {
  constructor(
    private readonly store: AuthorityStore,
    private readonly config: AuthorityConfig,
    private readonly verification: VerificationService,
  ) {}

  /**
   * Everything that can be checked before the body is read: the certificate and the hmac key header. An
   * unauthenticated upload is refused without reading its (up to 8 MiB) body.
   */
  async authorize(headers: IncomingHttpHeaders, now: number): Promise<BandLogAuth> {
    const auth = headers["authorization"];
    const m = typeof auth === "string" ? /^Bearer ([A-Za-z0-9._-]+)$/.exec(auth) : null;
    if (!m)
      throw new HttpError(
        401,
        "unauthorized",
        "send the verification certificate as Authorization: Bearer <certificate>",
      );
    const cert = await this.verification.verifyCertificate(m[1], now);
    if (!cert.logmac) {
      throw new HttpError(
        403,
        "certificate_without_logmac",
        "this certificate was issued without a logmac, so it authorises no band log",
      );
    }
    if (cert.reportType === "negative") {
      throw new HttpError(403, "forbidden", "a certificate for a negative test does not authorise a band log");
    }
    const keyHeader = headers["x-tracelet-hmac-key"];
    const hmacKey = typeof keyHeader === "string" ? decodeBase64Strict(keyHeader) : undefined;
    if (!hmacKey || hmacKey.length < 16 || hmacKey.length > 128) {
      throw new HttpError(
        401,
        "unauthorized",
        "X-Tracelet-Hmac-Key must be the base64 hmacKey of the certificate request",
      );
    }
    return { cert, hmacKey, logmac: cert.logmac };
  }

  async upload(auth: BandLogAuth, body: Buffer, now: number): Promise<BandLogResult> {
    const { cert, hmacKey } = auth;
    if (!logmacMatches(body, hmacKey, auth.logmac)) {
      throw new HttpError(403, "logmac_mismatch", "the certificate's logmac does not match this log and hmac key");
    }
    const decoded = decodeLogExport(body);
    if (!decoded.ok) throw new HttpError(400, "bad_log", `band log rejected: ${decoded.error}`);
    const log = decoded.value;
    const records = log.segments.reduce((n, s) => n + s.records.length, 0);
    const sha = createHash("sha256").update(body).digest();
    const bandId = toHex(log.bandId);
    const resolution = this.config.deployment === "escrow" ? "pending" : "off";
    const outcome = await this.store.storeBandLog({
      jti: cert.jti,
      sha256: sha,
      bandId,
      body,
      segments: log.segments.length,
      records,
      uploadedAt: now,
      reportType: cert.reportType,
      symptomOnsetInterval: cert.symptomOnsetInterval ?? null,
      resolution,
    });
    if (outcome.status === "certificate_used") {
      throw new HttpError(
        409,
        "certificate_used",
        "this verification certificate was already used for another band log",
      );
    }
    return {
      logId: outcome.id,
      sha256: sha.toString("hex"),
      bandId,
      segments: log.segments.length,
      records,
      duplicate: outcome.status === "duplicate",
      resolution,
      jti: cert.jti,
    };
  }
}

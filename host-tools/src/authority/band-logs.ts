import { createHash } from "crypto";
import { IncomingHttpHeaders } from "http";
import { z } from "zod";
import { toHex } from "../../../firmware/src/protocol/bytes";
import { pureCrypto } from "../../../firmware/src/protocol/crypto";
import { escrowTek } from "../../../firmware/src/protocol/escrow";
import { decodeLogExportV3, firstBadPage, logKey, logOfExport } from "../../../firmware/src/protocol/log-mac";
import { AuthorityConfig } from "./config";
import { decodeBase64Strict } from "./crypto/base64";
import { open } from "./crypto/secret-box";
import { logmacMatches, MacKey, tekmacMatches } from "./crypto/tekmac";
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
 *
 * The log itself must be the band's (TLX v3, protocol/log-mac.ts): its band id must be registered, and in escrow
 * deployments every page's MAC must verify with the log key derived from that band's escrowed secret, and the
 * certificate's keys, sent as `X-Tracelet-Keys` (base64 of the JSON array published with the certificate),
 * must be that band's escrow TEKs. Private deployments hold no band secrets: their logs are stored unverified.
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
  /** The certificate's keys as the kiosk sent them (X-Tracelet-Keys), undefined when absent. */
  keys?: MacKey[];
}

/** X-Tracelet-Keys: base64 of the JSON array of the keys published with the certificate. */
const KeysHeader = z
  .array(
    z.object({
      key: z.string().max(64),
      rollingStartNumber: z.number().int().min(0).max(0xffffffff),
      rollingPeriod: z.number().int().min(1).max(144),
      transmissionRisk: z.number().int().min(0).max(8).optional(),
    }),
  )
  .min(1)
  .max(30);

export const BAND_LOG_TYPES = ["application/octet-stream", "application/x-tracelet-log"];

export class BandLogService {
  constructor(
    private readonly store: AuthorityStore,
    private readonly config: AuthorityConfig,
    private readonly verification: VerificationService,
    private readonly escrowKey: Buffer,
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
    let keys: MacKey[] | undefined;
    const keysHeader = headers["x-tracelet-keys"];
    if (keysHeader !== undefined) {
      const raw = typeof keysHeader === "string" ? decodeBase64Strict(keysHeader) : undefined;
      let parsed: unknown;
      try {
        parsed = raw ? JSON.parse(raw.toString("utf8")) : undefined;
      } catch {
        parsed = undefined;
      }
      const r = KeysHeader.safeParse(parsed);
      if (!r.success)
        throw new HttpError(400, "bad_keys", "X-Tracelet-Keys must be base64 of the JSON array of published keys");
      keys = r.data;
    }
    return { cert, hmacKey, logmac: cert.logmac, keys };
  }

  async upload(auth: BandLogAuth, body: Buffer, now: number): Promise<BandLogResult> {
    const { cert, hmacKey } = auth;
    if (!logmacMatches(body, hmacKey, auth.logmac)) {
      throw new HttpError(403, "logmac_mismatch", "the certificate's logmac does not match this log and hmac key");
    }
    const decoded = decodeLogExportV3(body);
    if (!decoded.ok) throw new HttpError(400, "bad_log", `band log rejected: ${decoded.error}`);
    const bandId = toHex(decoded.value.bandId);
    const band = await this.store.getBand(bandId);
    if (!band) throw new HttpError(403, "unknown_band", `band ${bandId} is not registered`);
    if (this.config.deployment === "escrow") {
      const secret = band.secretSealed ? open(this.escrowKey, band.secretSealed, decoded.value.bandId) : undefined;
      if (!secret) {
        throw new HttpError(
          403,
          "band_without_secret",
          `band ${bandId} has no escrow secret: its log cannot be verified`,
        );
      }
      const bad = firstBadPage(pureCrypto.sha256, logKey(pureCrypto.sha256, secret), decoded.value);
      if (bad >= 0) {
        throw new HttpError(403, "bad_log_mac", `page ${bad} of the log is not signed by band ${bandId}`);
      }
      if (!auth.keys) {
        throw new HttpError(400, "keys_required", "send the certificate's keys as X-Tracelet-Keys with a band log");
      }
      if (!tekmacMatches(auth.keys, hmacKey, cert.tekmac)) {
        throw new HttpError(403, "tekmac_mismatch", "X-Tracelet-Keys are not the keys this certificate was issued for");
      }
      for (const k of auth.keys) {
        const tek = decodeBase64Strict(k.key);
        const own = escrowTek(pureCrypto, secret, Math.floor(k.rollingStartNumber / 144));
        if (!tek || tek.length !== 16 || !Buffer.from(own).equals(tek)) {
          throw new HttpError(
            403,
            "keys_not_of_band",
            `the certificate's key of interval ${k.rollingStartNumber} is not band ${bandId}'s`,
          );
        }
      }
    }
    const assembled = logOfExport(decoded.value);
    if (!assembled.ok) throw new HttpError(400, "bad_log", `band log rejected: ${assembled.error}`);
    const log = assembled.value.log;
    const records = log.segments.reduce((n, s) => n + s.records.length, 0);
    const sha = createHash("sha256").update(body).digest();
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

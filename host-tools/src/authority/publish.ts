import { z } from "zod";
import { AuthorityConfig } from "./config";
import { decodeBase64Strict } from "./crypto/base64";
import { open, seal } from "./crypto/secret-box";
import { tekmacMatches } from "./crypto/tekmac";
import { HttpError } from "./http/errors";
import { responsePadding } from "./http/router";
import { AuthorityStore, ExposureRow } from "./store/store";
import { VerificationService } from "./verification";

/**
 * POST /v1/publish: diagnosis keys of a positive person, in the JSON of google/exposure-notifications-server,
 * authorised by a verification certificate whose tekmac claim must be the HMAC of exactly these keys.
 */
const Base64Key = z
  .string()
  .max(64)
  .refine((s) => decodeBase64Strict(s)?.length === 16, "must be base64 of 16 bytes");

export const ExposureKeySchema = z.object({
  key: Base64Key,
  rollingStartNumber: z.number().int().min(1).max(0xffffffff),
  rollingPeriod: z.number().int().min(1).max(144),
  transmissionRisk: z.number().int().min(0).max(8).optional(),
});

export const PublishRequest = z.object({
  temporaryExposureKeys: z.array(ExposureKeySchema).min(1).max(21),
  healthAuthorityID: z.string().min(1).max(128),
  verificationPayload: z.string().min(1).max(4096),
  hmacKey: z
    .string()
    .max(200)
    .refine((s) => {
      const n = decodeBase64Strict(s)?.length ?? 0;
      return n >= 16 && n <= 128;
    }, "must be base64 of 16 to 128 bytes"),
  symptomOnsetInterval: z.number().int().min(0).max(0xffffffff).optional(),
  traveler: z.boolean().optional(),
  revisionToken: z.string().max(8192).optional(),
  padding: z.string().max(65536).optional(),
});

export type PublishBody = z.infer<typeof PublishRequest>;

export interface PublishResult {
  revisionToken: string;
  insertedExposures: number;
  revisedExposures: number;
  padding: string;
  warnings?: string[];
  jti: string;
  reportType: string;
}

const REVISION_AAD = Buffer.from("tracelet-revision-token-v1");
const MAX_ONSET_AGE_DAYS = 28;

export class PublishService {
  constructor(
    private readonly store: AuthorityStore,
    private readonly config: AuthorityConfig,
    private readonly verification: VerificationService,
    private readonly revisionKey: Buffer,
  ) {}

  async publish(body: PublishBody, now: number): Promise<PublishResult> {
    if (body.healthAuthorityID !== this.config.healthAuthorityId) {
      throw new HttpError(401, "unknown_health_authority_id", "unknown healthAuthorityID");
    }
    const cert = this.verification.verifyCertificate(body.verificationPayload, now);
    const hmacKey = decodeBase64Strict(body.hmacKey) as Buffer;
    if (!tekmacMatches(body.temporaryExposureKeys, hmacKey, cert.tekmac)) {
      throw new HttpError(
        401,
        "health_authority_verification_certificate_invalid",
        "the certificate's tekmac does not match these keys and hmacKey",
      );
    }
    const warnings: string[] = [];
    const nowEnin = Math.floor(now / 600);
    const today = Math.floor(nowEnin / 144) * 144;
    const oldest = nowEnin - this.config.publish.maxKeyAgeDays * 144;
    const seenKeys = new Set<string>();
    const seenDays = new Set<number>();
    for (const [i, k] of body.temporaryExposureKeys.entries()) {
      const where = `temporaryExposureKeys.${i}`;
      if (k.rollingStartNumber % 144 !== 0) {
        throw new HttpError(
          400,
          "bad_request",
          `${where}.rollingStartNumber must be aligned to a UTC day (a multiple of 144)`,
        );
      }
      if (k.rollingStartNumber > today) {
        throw new HttpError(400, "bad_request", `${where}.rollingStartNumber is in the future`);
      }
      const hex = (decodeBase64Strict(k.key) as Buffer).toString("hex");
      if (seenKeys.has(hex)) throw new HttpError(400, "bad_request", `${where}.key appears twice`);
      seenKeys.add(hex);
      if (seenDays.has(k.rollingStartNumber)) {
        throw new HttpError(400, "bad_request", `${where}: two keys cover the same day`);
      }
      seenDays.add(k.rollingStartNumber);
    }
    let onset = cert.symptomOnsetInterval ?? body.symptomOnsetInterval;
    if (onset !== undefined && (onset > nowEnin + 144 || onset < nowEnin - MAX_ONSET_AGE_DAYS * 144)) {
      warnings.push("symptomOnsetInterval is implausible and was ignored");
      onset = undefined;
    }
    const incoming: ExposureRow[] = [];
    for (const k of body.temporaryExposureKeys) {
      if (k.rollingStartNumber + k.rollingPeriod < oldest) {
        warnings.push(
          `a key of interval ${k.rollingStartNumber} is older than ${this.config.publish.maxKeyAgeDays} days and was dropped`,
        );
        continue;
      }
      incoming.push({
        keyData: decodeBase64Strict(k.key) as Buffer,
        rollingStart: k.rollingStartNumber,
        rollingPeriod: k.rollingPeriod,
        transmissionRisk: k.transmissionRisk ?? null,
        reportType: cert.reportType,
        daysSinceOnset: onset === undefined ? null : daysSinceOnset(k.rollingStartNumber, onset),
        traveler: body.traveler ?? false,
        healthAuthority: body.healthAuthorityID,
        createdAt: now,
        // A key is exported only after its validity ended (replay protection, PROTOCOLS.md).
        releaseAt: Math.max(now, (k.rollingStartNumber + k.rollingPeriod) * 600),
        revisedAt: null,
        revisedReportType: null,
        revisedDaysSinceOnset: null,
      });
    }
    if (incoming.length === 0)
      throw new HttpError(400, "bad_request", "no key is recent enough to publish", { warnings });
    const revisable = body.revisionToken !== undefined ? this.openRevisionToken(body.revisionToken) : null;
    const outcome = await this.store.publish({ jti: cert.jti, now, incoming, revisable });
    if (!outcome.ok) {
      const status = outcome.code === "certificate_used" ? 409 : 400;
      throw new HttpError(status, outcome.code, outcome.error);
    }
    warnings.push(...outcome.warnings);
    return {
      revisionToken: this.sealRevisionToken(incoming, now),
      insertedExposures: outcome.inserted,
      revisedExposures: outcome.revised,
      padding: responsePadding(),
      ...(warnings.length ? { warnings } : {}),
      jti: cert.jti,
      reportType: cert.reportType,
    };
  }

  /** The revision token: the published keys sealed under the revision subkey (only this server can read it). */
  private sealRevisionToken(keys: ExposureRow[], now: number): string {
    const payload = { v: 1, at: now, keys: keys.map((k) => k.keyData.toString("hex")) };
    return seal(this.revisionKey, Buffer.from(JSON.stringify(payload)), REVISION_AAD).toString("base64");
  }

  private openRevisionToken(token: string): Set<string> {
    const raw = decodeBase64Strict(token);
    const plain = raw ? open(this.revisionKey, raw, REVISION_AAD) : undefined;
    if (!plain) throw new HttpError(400, "invalid_revision_token", "revision token is not valid");
    try {
      const p = JSON.parse(plain.toString("utf8")) as { keys: string[] };
      return new Set(p.keys);
    } catch {
      throw new HttpError(400, "invalid_revision_token", "revision token is not valid");
    }
  }
}

/** Days between a key's day and symptom onset, as exports carry it; outside -14..14 it is not reported. */
export function daysSinceOnset(rollingStart: number, onsetInterval: number): number | null {
  const d = Math.round((rollingStart - onsetInterval) / 144);
  return d >= -14 && d <= 14 ? d : null;
}

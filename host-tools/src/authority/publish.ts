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

/**
 * Publish rules (google/exposure-notifications-server, internal/publish/model: MAX_SAME_START_INTERVAL_KEYS
 * defaults to 3; rolling starts need not be aligned to UTC midnight; a key that is in the future or too old
 * is dropped on its own, the rest of the upload is kept).
 */
export const MAX_SAME_START_KEYS = 3;
/**
 * Embargo after the end of a key's validity before it is exported: the matching tolerance of the GAEN
 * protocol (a receiver accepts an RPI up to 2 h away from its own clock), so a published key can no longer
 * be replayed as a live advert (PROTOCOLS.md).
 */
export const EMBARGO_S = 2 * 3600;

type ExposureKey = z.infer<typeof ExposureKeySchema>;

/** When a key may be exported: at least EMBARGO_S after its validity ended, and never before it arrived. */
export function releaseAt(k: { rollingStartNumber: number; rollingPeriod: number }, now: number): number {
  return Math.max(now, (k.rollingStartNumber + k.rollingPeriod) * 600 + EMBARGO_S);
}

/**
 * Applies the publish rules to the keys of one upload. A key starting in the future or whose validity ended
 * more than `maxKeyAgeDays` ago is dropped with a warning. What remains must not overlap: keys sharing a
 * rolling start (a phone that ended today's key early and started another) are allowed up to
 * MAX_SAME_START_KEYS; any other overlap, or the same key twice, refuses the upload, as does an upload
 * left without keys.
 */
export function checkKeys(
  keys: readonly ExposureKey[],
  nowEnin: number,
  maxKeyAgeDays: number,
  warnings: string[],
): ExposureKey[] {
  const oldest = nowEnin - maxKeyAgeDays * 144;
  const seenKeys = new Set<string>();
  const valid: ExposureKey[] = [];
  const dropped: string[] = [];
  for (const [i, k] of keys.entries()) {
    const hex = (decodeBase64Strict(k.key) as Buffer).toString("hex");
    if (seenKeys.has(hex)) throw new HttpError(400, "bad_request", `temporaryExposureKeys.${i}.key appears twice`);
    seenKeys.add(hex);
    if (k.rollingStartNumber > nowEnin) {
      dropped.push(`key ${i}: rollingStartNumber ${k.rollingStartNumber} is in the future and was dropped`);
    } else if (k.rollingStartNumber + k.rollingPeriod <= oldest) {
      dropped.push(
        `key ${i}: a key of interval ${k.rollingStartNumber} is older than ${maxKeyAgeDays} days and was dropped`,
      );
    } else {
      valid.push(k);
    }
  }
  warnings.push(...dropped);
  if (valid.length === 0) {
    throw new HttpError(400, "bad_request", `no key can be published: ${dropped.join("; ")}`, { warnings });
  }
  const sorted = [...valid].sort(
    (a, b) => a.rollingStartNumber - b.rollingStartNumber || a.rollingPeriod - b.rollingPeriod,
  );
  let start = sorted[0].rollingStartNumber;
  let end = start + sorted[0].rollingPeriod;
  let sameStart = 0;
  for (const k of sorted) {
    if (k.rollingStartNumber === start) {
      sameStart++;
      if (sameStart > MAX_SAME_START_KEYS) {
        throw new HttpError(
          400,
          "bad_request",
          `more than ${MAX_SAME_START_KEYS} keys start at interval ${start} (same day)`,
        );
      }
      end = k.rollingStartNumber + k.rollingPeriod;
      continue;
    }
    if (k.rollingStartNumber < end) {
      throw new HttpError(
        400,
        "bad_request",
        `keys overlap: a key starting at interval ${k.rollingStartNumber} begins before the key starting at ${start} ends (${end})`,
      );
    }
    start = k.rollingStartNumber;
    end = start + k.rollingPeriod;
    sameStart = 1;
  }
  return valid;
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
    const cert = await this.verification.verifyCertificate(body.verificationPayload, now);
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
    const valid = checkKeys(body.temporaryExposureKeys, nowEnin, this.config.publish.maxKeyAgeDays, warnings);
    let onset = cert.symptomOnsetInterval ?? body.symptomOnsetInterval;
    if (onset !== undefined && (onset > nowEnin + 144 || onset < nowEnin - MAX_ONSET_AGE_DAYS * 144)) {
      warnings.push("symptomOnsetInterval is implausible and was ignored");
      onset = undefined;
    }
    const incoming: ExposureRow[] = [];
    for (const k of valid) {
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
        releaseAt: releaseAt(k, now),
        revisedAt: null,
        revisedReportType: null,
        revisedDaysSinceOnset: null,
      });
    }
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

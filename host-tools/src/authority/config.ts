import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { validProxyEntry } from "./http/rate-limit";

/**
 * Authority configuration: a JSON file (`--config`), every field optional. Secrets (server key, signing keys,
 * API keys) live in a separate secrets file so the config can be reviewed and versioned; see secrets.ts.
 */
const Role = z.enum(["admin", "kiosk", "flasher"]);

const ApiKeyConfig = z
  .object({
    name: z.string().min(1).max(64),
    role: Role,
    /** The key itself (at least 24 characters) ... */
    key: z.string().min(24).max(512).optional(),
    /** ... or only its SHA-256, hex, so the config file holds no usable secret. */
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/)
      .optional(),
  })
  .refine((k) => (k.key === undefined) !== (k.sha256 === undefined), { message: "give exactly one of key, sha256" });

export const AuthorityConfigSchema = z
  .object({
    /**
     * `private`: decentralised, the authority never holds band secrets and does no F1 resolution.
     * `escrow`: the authority keeps each band's escrow secret (sealed) and resolves positive bands' logs to
     * registered bands. Its privacy cost: the authority can recognise every escrow band's adverts.
     */
    deployment: z.enum(["private", "escrow"]).default("private"),
    /**
     * Escrow on PostgreSQL: F1 resolution runs only in `tracelet authority worker` processes (any number, each
     * claiming one log at a time), not in the API nodes. Off: each server resolves logs in the background.
     */
    f1Workers: z.boolean().default(false),
    /**
     * How long a worker's claim on an F1 job (or on a log it is planning or resolving whole) holds without being
     * renewed: a worker renews it every third of this while it works, so a claim older than this means the
     * worker died (kill -9, lost machine) and any worker or node takes the job over.
     */
    f1LeaseSeconds: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600)
      .default(15 * 60),
    /**
     * Workers split a positive log into jobs of one day of the log x this many registered escrow bands (a range
     * of their row ids), so several workers share one log.
     */
    f1JobBands: z.number().int().min(1).max(100_000_000).default(250_000),
    /** Region code in export files (ISO 3166-1 alpha-2 or a health-authority defined string). */
    region: z.string().min(1).max(32).default("TL"),
    /** The healthAuthorityID publish requests must name. */
    healthAuthorityId: z.string().min(1).max(128).default("tracelet"),
    /** Secrets file; default `<db>.secrets.json` next to the database, created with mode 0600 on first start. */
    secretsFile: z.string().optional(),
    /** Extra API keys on top of those in the secrets file. */
    apiKeys: z.array(ApiKeyConfig).max(1000).default([]),
    /**
     * Behind a proxy: take the client address from X-Forwarded-For, read from the right, skipping the proxies
     * in `trustedProxies` (loopback when that list is empty). Only requests arriving from a trusted proxy
     * have their X-Forwarded-For read at all.
     */
    trustProxy: z.boolean().default(false),
    /** Addresses or CIDR ranges of your own proxies (e.g. "10.0.0.0/8", "::1"). */
    trustedProxies: z
      .array(z.string().max(64).refine(validProxyEntry, "must be an IP address or CIDR range"))
      .max(100)
      .default([]),
    tls: z.object({ certFile: z.string(), keyFile: z.string() }).optional(),
    verification: z
      .object({
        issuer: z.string().min(1).default("tracelet-authority"),
        audience: z.string().min(1).default("tracelet-keyserver"),
        /** `kid` of the certificate signing key. */
        keyId: z.string().min(1).max(64).default("v1"),
        codeDigits: z.number().int().min(6).max(16).default(8),
        codeTtlMinutes: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 60)
          .default(60),
        tokenTtlMinutes: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 60)
          .default(24 * 60),
        certificateTtlMinutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(15),
      })
      .prefault({}),
    publish: z
      .object({
        /** Keys whose whole validity ended longer ago than this are dropped with a warning. */
        maxKeyAgeDays: z.number().int().min(1).max(60).default(21),
      })
      .prefault({}),
    exports: z
      .object({
        /** Length of one export window; keys become visible once their window has closed. */
        windowMinutes: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 60)
          .default(60),
        maxKeysPerFile: z.number().int().min(1).max(100000).default(10000),
        /**
         * A window with keys is padded with random decoy keys to at least this many plus a random 0..paddingRange,
         * so a file's size does not reveal how many people published (defaults from
         * google/exposure-notifications-server: EXPORT_FILE_MIN_RECORDS=1000, EXPORT_FILE_PADDING_RANGE=100).
         * 0 turns padding off.
         */
        minRecords: z.number().int().min(0).max(100000).default(1000),
        paddingRange: z.number().int().min(0).max(10000).default(100),
        /** Export files older than this are no longer listed in index.txt. */
        retentionDays: z.number().int().min(1).max(60).default(14),
        /** SignatureInfo fields (what phone apps are configured with). */
        keyId: z.string().min(1).max(64).default("tracelet"),
        /**
         * verification_key_version of a secrets file's single export key (default "v1"). Once keys are rotated
         * with `tracelet authority export-keys`, each key's version is in the secrets file and this must be unset.
         */
        keyVersion: z.string().min(1).max(64).optional(),
        /**
         * Exports for a CDN: after each export pass, the export files, index.txt and signing-key.pem are written to
         * `<publishDir>/v1/exports/` (the paths phones fetch), for a static server or CDN origin serving publishDir.
         * Relative to the config file.
         */
        publishDir: z.string().min(1).optional(),
        /**
         * Exports for a CDN in an S3-compatible bucket: the same tree as publishDir, under
         * `<prefix>v1/exports/`, after each export pass. Credentials come from the AWS SDK's default chain
         * (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, an instance role), never from this file.
         */
        s3: z
          .object({
            bucket: z.string().min(3).max(63),
            region: z.string().min(1).max(64).default("us-east-1"),
            /** An S3-compatible server (MinIO, Ceph, a provider's endpoint); AWS S3 when absent. */
            endpoint: z.url().max(512).optional(),
            prefix: z
              .string()
              .max(256)
              .regex(/^$|^[^/].*\/$/, 'must be "" or end in "/" (and not start with one)')
              .default(""),
            forcePathStyle: z.boolean().default(false),
          })
          .strict()
          .optional(),
        /** false: this node answers `/v1/exports/*` with 404 exports_not_served (phones fetch them from the CDN). */
        serve: z.boolean().default(true),
        /** Where phones fetch the exports instead (shown in that 404), e.g. "https://cdn.example.org/v1/exports/". */
        cdnUrl: z.url().max(512).optional(),
      })
      .prefault({}),
    limits: z
      .object({
        publishBytes: z
          .number()
          .int()
          .min(1024)
          .max(1 << 20)
          .default(64 * 1024),
        jsonBytes: z
          .number()
          .int()
          .min(1024)
          .max(1 << 20)
          .default(16 * 1024),
        bandLogBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 << 20)
          .default(8 << 20),
        /** Concurrent connections; further connections are closed at once. */
        maxConnections: z.number().int().min(1).max(100000).default(1024),
      })
      .prefault({}),
    /** Requests per minute per client address and route class; `enabled: false` only for benchmarks. */
    rateLimits: z
      .object({
        enabled: z.boolean().default(true),
        verifyPerMinute: z.number().int().min(1).default(20),
        certificatePerMinute: z.number().int().min(1).default(20),
        publishPerMinute: z.number().int().min(1).default(60),
        bandLogPerMinute: z.number().int().min(1).default(30),
        adminPerMinute: z.number().int().min(1).default(600),
        publicPerMinute: z.number().int().min(1).default(1200),
        /** Failed code or token guesses (per client address and per API key) that trigger a lockout. */
        lockoutFailures: z.number().int().min(1).max(1000).default(10),
        /** Window in which those failures are counted, and how long the lockout lasts. */
        lockoutWindowMinutes: z.number().int().min(1).max(1440).default(15),
        lockoutMinutes: z.number().int().min(1).max(1440).default(15),
        /**
         * Most rate-limit buckets kept at once (client address x route class), in memory (SQLite) or in the
         * shared rate_buckets table (PostgreSQL): a flood of new addresses evicts idle and least recently used
         * buckets instead of growing the table. Lowered, the buckets in slots past the new bound go as they
         * idle (hourly purge).
         */
        maxBuckets: z.number().int().min(16).max(10_000_000).default(100_000),
      })
      .prefault({}),
    /** How long data is kept; purged by the background work (hourly). */
    retention: z
      .object({
        /** Diagnosis keys, counted from the end of the key's day. */
        keysDays: z.number().int().min(1).max(365).default(21),
        /** Uploaded band logs, resolved sightings and worklist rows. */
        bandLogDays: z.number().int().min(1).max(365).default(30),
        /** Verification codes, counted from their expiry. */
        codesDays: z.number().int().min(1).max(365).default(7),
        auditDays: z.number().int().min(1).max(3650).default(365),
      })
      .prefault({}),
    exposure: z
      .object({
        /** Attenuation bucket edges in dB (tx power - RSSI), ascending: n edges make n+1 buckets. */
        attenuationThresholdsDb: z.array(z.number().int().min(0).max(150)).min(1).max(8).default([55, 63, 70]),
        /** Buckets 0..closeBucket count towards a close contact. */
        closeBucket: z.number().int().min(0).max(8).default(1),
        /** Minutes in close buckets within one day that make a close contact. */
        closeContactMinutes: z.number().int().min(1).max(1440).default(15),
        /**
         * Clock disagreement allowed between two bands, in 10-minute intervals, on top of what rotation allows (an
         * RPI is matched from RPI_MAX_ON_AIR_S before its first sighting to its first sighting: f1/sightings.ts).
         * Band clocks are set by kiosks, so 2 (20 min) is generous.
         */
        toleranceIntervals: z.number().int().min(0).max(72).default(2),
        /** Tx power assumed when a sighting's AEM byte does not decrypt to a plausible value (band boards: -4..-8). */
        defaultTxPowerDbm: z.number().int().min(-60).max(30).default(-6),
        /** Logged sightings older than this are ignored by F1 resolution. */
        maxSightingAgeDays: z.number().int().min(1).max(60).default(30),
      })
      .prefault({}),
  })
  .strict();

export type AuthorityConfig = z.infer<typeof AuthorityConfigSchema>;
export type ApiKeyConfig = z.infer<typeof ApiKeyConfig>;

/** Parses a config object; throws an Error whose message names every bad field. */
export function parseConfig(raw: unknown, baseDir = process.cwd()): AuthorityConfig {
  const r = AuthorityConfigSchema.safeParse(raw ?? {});
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`invalid authority config: ${msg}`);
  }
  const c = r.data;
  for (let i = 1; i < c.exposure.attenuationThresholdsDb.length; i++) {
    if (c.exposure.attenuationThresholdsDb[i] <= c.exposure.attenuationThresholdsDb[i - 1]) {
      throw new Error("invalid authority config: exposure.attenuationThresholdsDb must be strictly ascending");
    }
  }
  if (c.exposure.closeBucket > c.exposure.attenuationThresholdsDb.length) {
    throw new Error("invalid authority config: exposure.closeBucket is past the last bucket");
  }
  // Paths are relative to the config file.
  if (c.secretsFile) c.secretsFile = path.resolve(baseDir, c.secretsFile);
  if (c.exports.publishDir) c.exports.publishDir = path.resolve(baseDir, c.exports.publishDir);
  if (c.tls) c.tls = { certFile: path.resolve(baseDir, c.tls.certFile), keyFile: path.resolve(baseDir, c.tls.keyFile) };
  return c;
}

export function loadConfigFile(file: string): AuthorityConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`cannot read config ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`config ${file} is not JSON: ${(e as Error).message}`);
  }
  return parseConfig(raw, path.dirname(path.resolve(file)));
}

/** Attenuation bucket labels for thresholds [55, 63, 70]: "<=55", "56-63", "64-70", ">70". */
export function bucketLabels(thresholds: readonly number[]): string[] {
  const labels: string[] = [];
  for (let i = 0; i <= thresholds.length; i++) {
    if (i === 0) labels.push(`<=${thresholds[0]}`);
    else if (i === thresholds.length) labels.push(`>${thresholds[i - 1]}`);
    else labels.push(`${thresholds[i - 1] + 1}-${thresholds[i]}`);
  }
  return labels;
}

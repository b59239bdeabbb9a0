import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomBytes } from "crypto";
import * as fs from "fs";
import { z } from "zod";
import { AuthorityConfig } from "./config";
import { ApiKeyEntry, digestApiKey, Role } from "./crypto/api-keys";
import { decodeBase64Strict } from "./crypto/base64";

/** A verification_key_version: what phones and their OS vendors name the key by. */
export const ExportKeyVersion = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces");

/** Most export signing keys a secrets file holds (signing and retired). */
export const MAX_EXPORT_KEYS = 16;

/**
 * The authority's secrets, kept apart from its config: the 32-byte server key (seals escrow secrets and
 * revision tokens, keys the code hashes), the ES256 key that signs verification certificates, the ECDSA P-256
 * key(s) that sign export files (several during a key rotation: `tracelet authority export-keys`), and API
 * keys. On first start without a secrets file one is generated with mode 0600; nothing secret is ever logged.
 */
const SecretsFileSchema = z
  .object({
    version: z.literal(1),
    serverKey: z.string(),
    certificateSigningKey: z.string(),
    /** The one export signing key of a file never rotated (its version: the config's exports.keyVersion). */
    exportSigningKey: z.string().optional(),
    /**
     * The export signing keys, oldest first, once keys are managed with `tracelet authority export-keys`:
     * `signing` keys sign every new export file (several during a rotation's overlap); the others are retired
     * and only published, so files they signed still verify.
     */
    exportSigningKeys: z
      .array(
        z
          .object({
            version: ExportKeyVersion,
            key: z.string(),
            signing: z.boolean(),
          })
          .strict(),
      )
      .min(1)
      .max(MAX_EXPORT_KEYS)
      .optional(),
    apiKeys: z
      .array(
        z.object({
          name: z.string().min(1).max(64),
          role: z.enum(["admin", "kiosk", "flasher"]),
          key: z.string().min(24),
        }),
      )
      .default([]),
  })
  .strict();

export type SecretsFile = z.infer<typeof SecretsFileSchema>;

/** One export signing key: its version (verification_key_version) and whether it signs new files. */
export interface ExportSigningKey {
  version: string;
  key: KeyObject;
  publicKey: KeyObject;
  signing: boolean;
}

export interface AuthoritySecrets {
  serverKey: Buffer;
  certificateKey: KeyObject;
  certificatePublicKey: KeyObject;
  /** The current export signing key: the newest of the signing ones (signing-key.pem publishes it). */
  exportKey: KeyObject;
  exportPublicKey: KeyObject;
  /** Every export key, oldest first; the signing ones each sign every new export file. */
  exportKeys: ExportSigningKey[];
  apiKeys: ApiKeyEntry[];
}

/** The version a secrets file with a single `exportSigningKey` names its key by (config exports.keyVersion). */
export function legacyExportKeyVersion(config: AuthorityConfig): string {
  return config.exports.keyVersion ?? "v1";
}

/**
 * A secrets file's export keys as `exportSigningKeys` entries (a single `exportSigningKey` becomes one signing
 * key named by `legacyVersion`). Checks that exactly one of the two forms is present, that versions are unique and
 * that at least one key signs.
 */
export function exportKeyEntries(s: SecretsFile, legacyVersion: string): NonNullable<SecretsFile["exportSigningKeys"]> {
  if (s.exportSigningKey !== undefined && s.exportSigningKeys !== undefined)
    throw new Error("invalid secrets file: it holds both exportSigningKey and exportSigningKeys; keep one");
  if (s.exportSigningKey === undefined && s.exportSigningKeys === undefined)
    throw new Error("invalid secrets file: exportSigningKey (or exportSigningKeys) is missing");
  const list = s.exportSigningKeys ?? [{ version: legacyVersion, key: s.exportSigningKey as string, signing: true }];
  const seen = new Set<string>();
  for (const k of list) {
    if (seen.has(k.version))
      throw new Error(`invalid secrets file: exportSigningKeys holds version "${k.version}" twice`);
    seen.add(k.version);
  }
  if (!list.some((k) => k.signing))
    throw new Error("invalid secrets file: no key in exportSigningKeys is signing (at least one must be)");
  return list;
}

export function generateSecretsFile(): SecretsFile {
  const pem = (): string =>
    generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    }) as string;
  const apiKey = (role: Role) => ({ name: role, role, key: randomBytes(24).toString("base64url") });
  return {
    version: 1,
    serverKey: randomBytes(32).toString("base64"),
    certificateSigningKey: pem(),
    exportSigningKey: pem(),
    apiKeys: [apiKey("admin"), apiKey("kiosk"), apiKey("flasher")],
  };
}

/** Checks a secrets file's shape (not its keys: secretsFromFile does); throws naming the fields at fault. */
export function parseSecretsFile(raw: unknown): SecretsFile {
  const r = SecretsFileSchema.safeParse(raw);
  if (!r.success) {
    throw new Error(
      "invalid secrets file: " + r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
    );
  }
  return r.data;
}

/** Turns a secrets file into keys, checking that every signing key is ECDSA P-256. */
export function secretsFromFile(raw: unknown, config: AuthorityConfig): AuthoritySecrets {
  const s = parseSecretsFile(raw);
  const serverKey = decodeBase64Strict(s.serverKey);
  if (!serverKey || serverKey.length !== 32)
    throw new Error("invalid secrets file: serverKey must be 32 bytes, base64");
  const certificateKey = p256Key(s.certificateSigningKey, "certificateSigningKey");
  if (s.exportSigningKeys !== undefined && config.exports.keyVersion !== undefined) {
    throw new Error(
      "exports.keyVersion in the config names the version of a secrets file's single export key, but this secrets " +
        "file lists its export keys with their versions (exportSigningKeys): remove exports.keyVersion from the config",
    );
  }
  const exportKeys = exportKeyEntries(s, legacyExportKeyVersion(config)).map((k, i): ExportSigningKey => {
    const key = p256Key(k.key, s.exportSigningKeys ? `exportSigningKeys[${i}].key` : "exportSigningKey");
    return { version: k.version, key, publicKey: createPublicKey(key), signing: k.signing };
  });
  const current = exportKeys.filter((k) => k.signing).pop() as ExportSigningKey;
  const apiKeys: ApiKeyEntry[] = s.apiKeys.map((k) => ({ name: k.name, role: k.role, digest: digestApiKey(k.key) }));
  for (const k of config.apiKeys) {
    apiKeys.push({
      name: k.name,
      role: k.role,
      digest: k.key !== undefined ? digestApiKey(k.key) : Buffer.from(k.sha256 as string, "hex"),
    });
  }
  return {
    serverKey,
    certificateKey,
    certificatePublicKey: createPublicKey(certificateKey),
    exportKey: current.key,
    exportPublicKey: current.publicKey,
    exportKeys,
    apiKeys,
  };
}

/** Reads the secrets file, or creates it (mode 0600, exclusive) when it does not exist. */
export function loadOrCreateSecrets(
  file: string,
  config: AuthorityConfig,
): { secrets: AuthoritySecrets; created: boolean } {
  let created = false;
  if (!fs.existsSync(file)) {
    const fresh = generateSecretsFile();
    try {
      fs.writeFileSync(file, JSON.stringify(fresh, null, 2) + "\n", { mode: 0o600, flag: "wx" });
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST")
        throw new Error(`cannot create secrets file ${file}: ${(e as Error).message}`);
    }
  }
  return { secrets: loadSecretsFile(file, config), created };
}

/** Reads an existing secrets file (refused when group or others can read it); never creates one. */
export function loadSecretsFile(file: string, config: AuthorityConfig): AuthoritySecrets {
  return secretsFromFile(readSecretsJson(file), config);
}

/** The JSON of an existing secrets file (refused when group or others can read it), not yet checked. */
export function readSecretsJson(file: string): unknown {
  let mode: number;
  try {
    mode = fs.statSync(file).mode & 0o077;
  } catch (e) {
    throw new Error(`cannot read secrets file ${file}: ${(e as Error).message}`);
  }
  if (mode !== 0 && process.platform !== "win32") {
    throw new Error(`secrets file ${file} is readable by group or others; chmod 600 it`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`cannot read secrets file ${file}: ${(e as Error).message}`);
  }
  return raw;
}

function p256Key(pem: string, field: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error(`invalid secrets file: ${field} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new Error(`invalid secrets file: ${field} must be an ECDSA P-256 key`);
  }
  return key;
}

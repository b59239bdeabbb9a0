import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomBytes } from "crypto";
import * as fs from "fs";
import { z } from "zod";
import { AuthorityConfig } from "./config";
import { ApiKeyEntry, digestApiKey, Role } from "./crypto/api-keys";
import { decodeBase64Strict } from "./crypto/base64";

/**
 * The authority's secrets, kept apart from its config: the 32-byte server key (seals escrow secrets and
 * revision tokens, keys the code hashes), the ES256 key that signs verification certificates, the ECDSA P-256
 * key that signs export files, and API keys. On first start without a secrets file one is generated with
 * mode 0600; nothing secret is ever logged.
 */
const SecretsFileSchema = z
  .object({
    version: z.literal(1),
    serverKey: z.string(),
    certificateSigningKey: z.string(),
    exportSigningKey: z.string(),
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

export interface AuthoritySecrets {
  serverKey: Buffer;
  certificateKey: KeyObject;
  certificatePublicKey: KeyObject;
  exportKey: KeyObject;
  exportPublicKey: KeyObject;
  apiKeys: ApiKeyEntry[];
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

/** Turns a secrets file into keys, checking that both signing keys are ECDSA P-256. */
export function secretsFromFile(raw: unknown, config: AuthorityConfig): AuthoritySecrets {
  const r = SecretsFileSchema.safeParse(raw);
  if (!r.success) {
    throw new Error(
      "invalid secrets file: " + r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
    );
  }
  const s = r.data;
  const serverKey = decodeBase64Strict(s.serverKey);
  if (!serverKey || serverKey.length !== 32)
    throw new Error("invalid secrets file: serverKey must be 32 bytes, base64");
  const certificateKey = p256Key(s.certificateSigningKey, "certificateSigningKey");
  const exportKey = p256Key(s.exportSigningKey, "exportSigningKey");
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
    exportKey,
    exportPublicKey: createPublicKey(exportKey),
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
  return secretsFromFile(raw, config);
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

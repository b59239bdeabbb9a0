import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from "crypto";
import { exportKeyEntries, ExportKeyVersion, ExportSigningKey, MAX_EXPORT_KEYS, SecretsFile } from "../secrets";
import { SIGNATURE_ALGORITHM } from "./export-file";

/**
 * Export signing key rotation. The secrets file lists the export keys oldest first (`exportSigningKeys`), each
 * with its verification_key_version and whether it signs new export files. A rotation is two steps, each an edit
 * of the secrets file (`tracelet authority export-keys add` / `retire`, copied to every node, nodes restarted):
 *  1. add the new key: from then on every new file carries two signatures (TEKSignatureList holds a list), so a
 *     verifier holding either public key accepts it while phones are given the new one;
 *  2. retire the old key: new files carry the new signature only; the old public key stays published so files
 *     it signed still verify, until `remove` drops it once no such file is listed any more.
 * Private keys never leave the secrets file; only public halves are published or printed.
 */

/** What `export-keys list` and signing-keys.json say about a key: never the private half. */
export interface ExportKeyInfo {
  version: string;
  /** Signs new export files. */
  signing: boolean;
  /** The newest signing key: the one signing-key.pem publishes. */
  current: boolean;
  /** SHA-256 of the public key's DER (SubjectPublicKeyInfo), hex. */
  sha256: string;
  publicKey: string;
}

/** A fresh ECDSA P-256 private key, PKCS#8 PEM (as the secrets file keeps it). */
export function generateExportKeyPem(): string {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({
    type: "pkcs8",
    format: "pem",
  }) as string;
}

/** The secrets file with a new signing key `version` added after the others (a legacy single key is listed). */
export function addExportKey(
  s: SecretsFile,
  version: string,
  legacyVersion: string,
  pem = generateExportKeyPem(),
): SecretsFile {
  const v = ExportKeyVersion.safeParse(version);
  if (!v.success) throw new Error(`key version ${JSON.stringify(version)}: ${v.error.issues[0].message}`);
  const keys = exportKeyEntries(s, legacyVersion).map((k) => ({ ...k }));
  if (keys.some((k) => k.version === version)) {
    throw new Error(`the secrets file already holds export key version "${version}" (${versions(keys)})`);
  }
  if (keys.length >= MAX_EXPORT_KEYS) {
    throw new Error(`the secrets file already holds ${keys.length} export keys; remove retired ones first`);
  }
  keys.push({ version, key: pem, signing: true });
  return withKeys(s, keys);
}

/** The secrets file with key `version` no longer signing (still published); refused for the last signing key. */
export function retireExportKey(s: SecretsFile, version: string, legacyVersion: string): SecretsFile {
  const keys = exportKeyEntries(s, legacyVersion).map((k) => ({ ...k }));
  const k = find(keys, version);
  if (!k.signing) throw new Error(`export key version "${version}" is already retired`);
  if (keys.filter((x) => x.signing).length === 1) {
    throw new Error(
      `export key version "${version}" is the only signing key: add its successor first (export-keys add)`,
    );
  }
  k.signing = false;
  return withKeys(s, keys);
}

/** The secrets file without the retired key `version`; refused for a signing key. */
export function removeExportKey(s: SecretsFile, version: string, legacyVersion: string): SecretsFile {
  const keys = exportKeyEntries(s, legacyVersion).map((k) => ({ ...k }));
  const k = find(keys, version);
  if (k.signing) throw new Error(`export key version "${version}" still signs new export files: retire it first`);
  return withKeys(
    s,
    keys.filter((x) => x !== k),
  );
}

/** The public facts about a secrets file's export keys, oldest first. */
export function describeExportKeys(s: SecretsFile, legacyVersion: string): ExportKeyInfo[] {
  return infos(
    exportKeyEntries(s, legacyVersion).map((k) => ({
      version: k.version,
      signing: k.signing,
      publicKey: createPublicKey(privateKey(k.key, k.version)),
    })),
  );
}

/**
 * signing-keys.json, published beside signing-key.pem: every export key's public half (signing and retired),
 * so a verifier can check files signed before and after a rotation.
 */
export function signingKeysJson(keyId: string, keys: readonly ExportSigningKey[]): string {
  return (
    JSON.stringify(
      {
        keyId,
        algorithm: SIGNATURE_ALGORITHM,
        keys: infos(keys),
      },
      null,
      2,
    ) + "\n"
  );
}

/** The public key's PEM (SubjectPublicKeyInfo). */
export function publicKeyPem(k: KeyObject): string {
  return k.export({ type: "spki", format: "pem" }) as string;
}

function infos(keys: readonly { version: string; signing: boolean; publicKey: KeyObject }[]): ExportKeyInfo[] {
  const current = keys.filter((k) => k.signing).pop();
  return keys.map((k) => ({
    version: k.version,
    signing: k.signing,
    current: k === current,
    sha256: createHash("sha256")
      .update(k.publicKey.export({ type: "spki", format: "der" }))
      .digest("hex"),
    publicKey: publicKeyPem(k.publicKey),
  }));
}

function privateKey(pem: string, version: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new Error(`invalid secrets file: export key version "${version}" is not a PEM private key`);
  }
}

function find<T extends { version: string }>(keys: T[], version: string): T {
  const k = keys.find((x) => x.version === version);
  if (!k) throw new Error(`the secrets file holds no export key version "${version}" (${versions(keys)})`);
  return k;
}

function versions(keys: readonly { version: string }[]): string {
  return "it holds " + keys.map((k) => `"${k.version}"`).join(", ");
}

function withKeys(s: SecretsFile, keys: NonNullable<SecretsFile["exportSigningKeys"]>): SecretsFile {
  const { exportSigningKey: _single, exportSigningKeys: _list, apiKeys, ...rest } = s;
  return { ...rest, exportSigningKeys: keys, apiKeys };
}

import { createPublicKey, KeyObject } from "crypto";
import {
  decodeExportBin,
  decodeSignatureList,
  KeyExport,
  SIGNATURE_ALGORITHM,
  SignatureInfo,
  unzipExport,
  verifyExportSignature,
} from "../../authority/export/export-file";

/**
 * Opening a downloaded diagnosis-key export file (authority/export/export-file.ts owns the format): unzip, check
 * the ECDSA P-256 / SHA-256 signature of export.bin against the health authority's public key (PEM from
 * `GET /v1/exports/signing-key.pem`), then decode. The signature is checked before the protobuf is decoded, so a
 * file that does not verify is never parsed into keys.
 */
export interface OpenExportOptions {
  /** The file's name or URL, for error messages. */
  fileName?: string;
  /**
   * The key id the authority signs with (export.sig `verification_key_id`). When given, a signature under any other
   * id is refused before verification (a rotated or foreign key).
   */
  keyId?: string;
}

export class ExportRefusedError extends Error {}

/**
 * The verified contents of an export zip. Throws ExportRefusedError with a one-sentence reason (bad zip, missing
 * signature, wrong key id, signature mismatch, malformed protobuf) naming `opts.fileName` when given.
 */
export async function openExport(zip: Buffer, publicKey: KeyObject, opts: OpenExportOptions = {}): Promise<KeyExport> {
  const name = opts.fileName ? `export file ${opts.fileName}` : "export file";
  // One sentence: a parser's own detail (yauzl's can run to two sentences) is cut at its first full stop.
  const refuse = (why: string) => new ExportRefusedError(`${name} refused: ${why.split(/\.(\s|$)/)[0]}.`);
  if (!isP256PublicKey(publicKey)) throw refuse("the configured verification key is not a P-256 public key");
  const files = await unzipExport(zip);
  if (!files.ok) throw refuse(files.error);
  const sigs = decodeSignatureList(files.value.sig);
  if (!sigs.ok) throw refuse(sigs.error);
  if (sigs.value.length === 0) throw refuse("export.sig holds no signature");
  const candidates = sigs.value.filter((s) => s.signature && s.signature.length > 0);
  if (candidates.length === 0) throw refuse("export.sig holds no signature bytes");
  const algorithms = candidates.filter((s) => (s.signature_info?.signature_algorithm ?? "") === SIGNATURE_ALGORITHM);
  if (algorithms.length === 0) {
    throw refuse(`no signature uses ECDSA P-256 SHA-256 (${SIGNATURE_ALGORITHM})`);
  }
  const ours =
    opts.keyId === undefined ? algorithms : algorithms.filter((s) => keyIdOf(s.signature_info) === opts.keyId);
  if (ours.length === 0) {
    const ids = algorithms.map((s) => `"${keyIdOf(s.signature_info)}"`).join(", ");
    throw refuse(`signed with key id ${ids}, not the configured "${opts.keyId}"`);
  }
  const bin = files.value.bin;
  if (!ours.some((s) => verifyExportSignature(bin, s.signature as Uint8Array, publicKey))) {
    throw refuse("the signature does not match export.bin under the configured public key");
  }
  const decoded = decodeExportBin(bin);
  if (!decoded.ok) throw refuse(decoded.error);
  return decoded.value;
}

/**
 * The authority's export verification key from its PEM (`GET /v1/exports/signing-key.pem`); throws unless it is
 * an ECDSA P-256 public key.
 */
export function verificationKeyFromPem(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch (e) {
    throw new Error(`export verification key: not a PEM public key (${(e as Error).message}).`);
  }
  if (!isP256PublicKey(key)) throw new Error("export verification key: not an ECDSA P-256 public key.");
  return key;
}

function isP256PublicKey(key: KeyObject): boolean {
  return (
    key.type === "public" && key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1"
  );
}

function keyIdOf(info: SignatureInfo | undefined): string {
  return info?.verification_key_id ?? "";
}

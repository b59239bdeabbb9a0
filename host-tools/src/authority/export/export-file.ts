import { KeyObject, sign, verify } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as protobuf from "protobufjs";
import { PassThrough } from "stream";
import { ZipFile } from "yazl";
import * as yauzl from "yauzl";
import { Decoded, fail, ok } from "../../../../firmware/src/protocol/bytes";

/**
 * Diagnosis-key export files, as Exposure Notification apps fetch them: a zip holding export.bin (16-byte
 * header "EK Export v1    " then a TemporaryExposureKeyExport protobuf) and export.sig (a TEKSignatureList
 * with an ECDSA P-256 / SHA-256 DER signature of export.bin). export.proto beside this file is the schema.
 */
export const EXPORT_HEADER = "EK Export v1    ";
export const SIGNATURE_ALGORITHM = "1.2.840.10045.4.3.2";
/** Sizes a parser accepts: nothing a key server sends comes near these. */
const MAX_ENTRY_BYTES = 16 << 20;

const root = protobuf.parse(fs.readFileSync(path.join(__dirname, "export.proto"), "utf8"), { keepCase: true }).root;
const ExportType = root.lookupType("tracelet.export.TemporaryExposureKeyExport");
const SignatureListType = root.lookupType("tracelet.export.TEKSignatureList");

export const REPORT_TYPES = [
  "UNKNOWN",
  "CONFIRMED_TEST",
  "CONFIRMED_CLINICAL_DIAGNOSIS",
  "SELF_REPORT",
  "RECURSIVE",
  "REVOKED",
] as const;
export type ReportTypeName = (typeof REPORT_TYPES)[number];

export interface SignatureInfo {
  verification_key_version?: string;
  verification_key_id?: string;
  signature_algorithm?: string;
}

export interface ExportKey {
  key_data: Uint8Array;
  transmission_risk_level?: number;
  rolling_start_interval_number?: number;
  rolling_period?: number;
  report_type?: ReportTypeName;
  days_since_onset_of_symptoms?: number;
  variant_of_concern?: number;
}

export interface KeyExport {
  start_timestamp?: number;
  end_timestamp?: number;
  region?: string;
  batch_num?: number;
  batch_size?: number;
  signature_infos: SignatureInfo[];
  keys: ExportKey[];
  revised_keys: ExportKey[];
}

export interface TekSignature {
  signature_info?: SignatureInfo;
  batch_num?: number;
  batch_size?: number;
  signature?: Uint8Array;
}

export function encodeExportBin(x: KeyExport): Buffer {
  const msg = ExportType.fromObject(toWire(x));
  return Buffer.concat([Buffer.from(EXPORT_HEADER, "latin1"), Buffer.from(ExportType.encode(msg).finish())]);
}

export function decodeExportBin(bin: Uint8Array): Decoded<KeyExport> {
  if (bin.length < 16 || Buffer.from(bin.subarray(0, 16)).toString("latin1") !== EXPORT_HEADER) {
    return fail(`export.bin does not start with the header "${EXPORT_HEADER}"`);
  }
  try {
    const obj = ExportType.toObject(ExportType.decode(bin.subarray(16)), {
      longs: Number,
      enums: String,
      bytes: Buffer,
      arrays: true,
    }) as KeyExport;
    // proto2 default: a key without rolling_period covers a whole day.
    for (const k of [...obj.keys, ...obj.revised_keys]) k.rolling_period ??= 144;
    return ok(obj);
  } catch (e) {
    return fail("export.bin protobuf does not decode: " + (e as Error).message);
  }
}

export function encodeSignatureList(sigs: TekSignature[]): Buffer {
  return Buffer.from(SignatureListType.encode(SignatureListType.fromObject({ signatures: sigs })).finish());
}

export function decodeSignatureList(sig: Uint8Array): Decoded<TekSignature[]> {
  try {
    const obj = SignatureListType.toObject(SignatureListType.decode(sig), { bytes: Buffer, arrays: true }) as {
      signatures: TekSignature[];
    };
    return ok(obj.signatures);
  } catch (e) {
    return fail("export.sig protobuf does not decode: " + (e as Error).message);
  }
}

/** ECDSA P-256 SHA-256 over export.bin, ASN.1 DER encoded (what Exposure Notification verifies). */
export function signExport(bin: Uint8Array, key: KeyObject): Buffer {
  return sign("sha256", bin, { key, dsaEncoding: "der" });
}

export function verifyExportSignature(bin: Uint8Array, signature: Uint8Array, publicKey: KeyObject): boolean {
  try {
    return verify("sha256", bin, { key: publicKey, dsaEncoding: "der" }, signature);
  } catch {
    return false;
  }
}

/** A zip with export.bin and export.sig; the timestamp is fixed so the same batch always zips to the same bytes. */
export function zipExport(bin: Buffer, sig: Buffer, mtime: Date): Promise<Buffer> {
  const zip = new ZipFile();
  zip.addBuffer(bin, "export.bin", { mtime, mode: 0o100644 });
  zip.addBuffer(sig, "export.sig", { mtime, mode: 0o100644 });
  zip.end();
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  zip.outputStream.pipe(sink);
  return new Promise((resolve, reject) => {
    sink.on("data", (c: Buffer) => chunks.push(c));
    sink.on("end", () => resolve(Buffer.concat(chunks)));
    sink.on("error", reject);
    zip.outputStream.on("error", reject);
  });
}

/** Reads export.bin and export.sig out of an export zip, refusing anything oversized or unexpected. */
export async function unzipExport(zipBytes: Buffer): Promise<Decoded<{ bin: Buffer; sig: Buffer }>> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(zipBytes, { validateEntrySizes: true });
  } catch (e) {
    return fail("not a zip file: " + (e as Error).message);
  }
  const files = new Map<string, Buffer>();
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName !== "export.bin" && entry.fileName !== "export.sig") continue;
      if (entry.uncompressedSize > MAX_ENTRY_BYTES) return fail(`${entry.fileName} is too large`);
      const stream = await zip.openReadStreamPromise(entry);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      files.set(entry.fileName, Buffer.concat(chunks));
    }
  } catch (e) {
    return fail("corrupt zip: " + (e as Error).message);
  }
  const bin = files.get("export.bin");
  const sig = files.get("export.sig");
  if (!bin) return fail("zip has no export.bin");
  if (!sig) return fail("zip has no export.sig");
  return ok({ bin, sig });
}

function toWire(x: KeyExport): Record<string, unknown> {
  const key = (k: ExportKey) => ({ ...k, key_data: Buffer.from(k.key_data) });
  return { ...x, keys: x.keys.map(key), revised_keys: x.revised_keys.map(key) };
}

import { verify } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as protobuf from "protobufjs";
import * as yauzl from "yauzl";
import { ROOT } from "../helpers/paths";

/**
 * A second, independent reader of export zips for tests: yauzl for the zip, a .proto written from the GAEN
 * export specification (test/fixtures/gaen/export.proto) parsed by protobufjs, and node:crypto for the ECDSA
 * P-256 / SHA-256 signature (DER), as a phone or openssl would check it. Nothing from Tracelet's export code.
 */
const proto = fs.readFileSync(path.join(ROOT, "test", "fixtures", "gaen", "export.proto"), "utf8");
const root = protobuf.parse(proto, { keepCase: true }).root;
const ExportMsg = root.lookupType("TemporaryExposureKeyExport");
const SignatureListMsg = root.lookupType("TEKSignatureList");
const HEADER = Buffer.from("EK Export v1    ", "ascii");

export interface IndependentKey {
  keyHex: string;
  rollingStart: number;
  rollingPeriod: number;
  reportType: string;
  transmissionRisk?: number;
  daysSinceOnset?: number;
}

export interface IndependentExport {
  startTimestamp: number;
  endTimestamp: number;
  region: string;
  batchNum: number;
  batchSize: number;
  keys: IndependentKey[];
  revisedKeys: IndependentKey[];
  signatureValid: boolean;
  signatureAlgorithm: string;
}

export async function readExportZip(zip: Buffer, publicKeyPem: string): Promise<IndependentExport> {
  const files = await unzip(zip);
  const bin = files.get("export.bin");
  const sig = files.get("export.sig");
  if (!bin || !sig || files.size !== 2) throw new Error(`zip holds ${[...files.keys()].join(", ")}`);
  if (!bin.subarray(0, 16).equals(HEADER)) throw new Error("export.bin lacks the 16-byte header");
  const e = ExportMsg.toObject(ExportMsg.decode(bin.subarray(16)), { longs: Number, enums: String, defaults: true });
  const list = SignatureListMsg.toObject(SignatureListMsg.decode(sig), { enums: String, defaults: true });
  if (list.signatures.length !== 1) throw new Error("expected one signature");
  const s = list.signatures[0];
  const signatureValid = verify("sha256", bin, { key: publicKeyPem, dsaEncoding: "der" }, Buffer.from(s.signature));
  const key = (k: Record<string, unknown>): IndependentKey => ({
    keyHex: Buffer.from(k.key_data as Uint8Array).toString("hex"),
    rollingStart: k.rolling_start_interval_number as number,
    rollingPeriod: k.rolling_period as number,
    reportType: k.report_type as string,
    transmissionRisk: k.transmission_risk_level as number,
    daysSinceOnset: k.days_since_onset_of_symptoms as number,
  });
  if (s.batch_num !== e.batch_num || s.batch_size !== e.batch_size) throw new Error("batch fields differ");
  return {
    startTimestamp: e.start_timestamp,
    endTimestamp: e.end_timestamp,
    region: e.region,
    batchNum: e.batch_num,
    batchSize: e.batch_size,
    keys: e.keys.map(key),
    revisedKeys: e.revised_keys.map(key),
    signatureValid,
    signatureAlgorithm: s.signature_info.signature_algorithm,
  };
}

async function unzip(zip: Buffer): Promise<Map<string, Buffer>> {
  const z = await yauzl.fromBufferPromise(zip, { strictFileNames: true, validateEntrySizes: true });
  const out = new Map<string, Buffer>();
  try {
    for await (const entry of z.eachEntry()) {
      const chunks: Buffer[] = [];
      for await (const c of await z.openReadStreamPromise(entry)) chunks.push(c as Buffer);
      out.set(entry.fileName, Buffer.concat(chunks));
    }
  } finally {
    z.close();
  }
  return out;
}

export interface IndependentSignature {
  keyId: string;
  keyVersion: string;
  algorithm: string;
  batchNum: number;
  batchSize: number;
  signature: Buffer;
}

/**
 * Every signature in an export zip's export.sig, and the signature infos export.bin lists, for files signed by
 * several keys (a key rotation's overlap). `verifies` checks one signature against a PEM public key.
 */
export async function readExportSignatures(zip: Buffer): Promise<{
  infos: { keyId: string; keyVersion: string; algorithm: string }[];
  signatures: IndependentSignature[];
  verifies: (s: IndependentSignature, publicKeyPem: string) => boolean;
}> {
  const files = await unzip(zip);
  const bin = files.get("export.bin");
  const sig = files.get("export.sig");
  if (!bin || !sig) throw new Error(`zip holds ${[...files.keys()].join(", ")}`);
  const e = ExportMsg.toObject(ExportMsg.decode(bin.subarray(16)), { longs: Number, enums: String, defaults: true });
  const list = SignatureListMsg.toObject(SignatureListMsg.decode(sig), { enums: String, defaults: true });
  const info = (i: Record<string, string>) => ({
    keyId: i.verification_key_id,
    keyVersion: i.verification_key_version,
    algorithm: i.signature_algorithm,
  });
  return {
    infos: (e.signature_infos as Record<string, string>[]).map(info),
    signatures: (list.signatures as Record<string, unknown>[]).map((s) => ({
      ...info(s.signature_info as Record<string, string>),
      batchNum: s.batch_num as number,
      batchSize: s.batch_size as number,
      signature: Buffer.from(s.signature as Uint8Array),
    })),
    verifies: (s, pem) => verify("sha256", bin, { key: pem, dsaEncoding: "der" }, s.signature),
  };
}

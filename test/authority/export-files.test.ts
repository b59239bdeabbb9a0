import { generateKeyPairSync, randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import {
  decodeExportBin,
  decodeSignatureList,
  encodeExportBin,
  encodeSignatureList,
  EXPORT_HEADER,
  SIGNATURE_ALGORITHM,
  signExport,
  unzipExport,
  verifyExportSignature,
  zipExport,
} from "../../host-tools/src/authority/export/export-file";
import { GAEN_EXPORTS as DIR } from "../helpers/paths";

/** Google's real export files (test/fixtures/vectors/gaen-exports), parsed with Tracelet's parser. */
describe("parsing Google's export files", () => {
  test.each([
    ["internals-sample-diagnosis-keys.zip", 140, "310", "v1", 1593633600, 1593633900],
    ["server-example-2-records.zip", 2, "some_id", "1", 1590159600, 1590246000],
  ])("%s", async (file, keyCount, keyId, keyVersion, start, end) => {
    const zip = await unzipExport(fs.readFileSync(path.join(DIR, file)));
    if (!zip.ok) throw new Error(zip.error);
    expect(zip.value.bin.subarray(0, 16).toString("latin1")).toBe(EXPORT_HEADER);
    const bin = decodeExportBin(zip.value.bin);
    if (!bin.ok) throw new Error(bin.error);
    expect(bin.value).toMatchObject({
      region: "US",
      batch_num: 1,
      batch_size: 1,
      start_timestamp: start,
      end_timestamp: end,
    });
    expect(bin.value.keys).toHaveLength(keyCount);
    expect(bin.value.signature_infos).toEqual([
      { verification_key_id: keyId, verification_key_version: keyVersion, signature_algorithm: SIGNATURE_ALGORITHM },
    ]);
    for (const k of bin.value.keys) {
      expect(k.key_data).toHaveLength(16);
      expect(k.rolling_period).toBeGreaterThanOrEqual(1);
      expect(k.rolling_period).toBeLessThanOrEqual(144);
      expect(Number.isInteger(k.rolling_start_interval_number)).toBe(true);
    }
    const sigs = decodeSignatureList(zip.value.sig);
    if (!sigs.ok) throw new Error(sigs.error);
    expect(sigs.value).toHaveLength(1);
    expect(sigs.value[0]).toMatchObject({ batch_num: 1, batch_size: 1 });
    expect(sigs.value[0].signature_info).toEqual(bin.value.signature_infos[0]);
    // An ASN.1 DER ECDSA signature: SEQUENCE { INTEGER r, INTEGER s }.
    const der = Buffer.from(sigs.value[0].signature!);
    expect(der[0]).toBe(0x30);
    expect(der[1]).toBe(der.length - 2);
    expect(der[2]).toBe(0x02);
    // Without Google's public key the signature cannot verify, and a foreign key must not verify it.
    const foreign = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey;
    expect(verifyExportSignature(zip.value.bin, der, foreign)).toBe(false);
  });

  test("internals-testdata-export.bin (a bare export.bin)", () => {
    const bin = decodeExportBin(fs.readFileSync(path.join(DIR, "internals-testdata-export.bin")));
    if (!bin.ok) throw new Error(bin.error);
    expect(bin.value.region).toBe("US");
    expect(bin.value.keys.length).toBeGreaterThan(0);
    expect(bin.value.keys.every((k) => k.key_data.length === 16)).toBe(true);
    // Keys without rolling_period get the proto default of a whole day; explicit values survive.
    expect(bin.value.keys.some((k) => k.rolling_period !== 144)).toBe(true);
  });

  test("real keys re-encode to the same protobuf", async () => {
    const zip = await unzipExport(fs.readFileSync(path.join(DIR, "server-example-2-records.zip")));
    if (!zip.ok) throw new Error(zip.error);
    const bin = decodeExportBin(zip.value.bin);
    if (!bin.ok) throw new Error(bin.error);
    expect(encodeExportBin(bin.value).equals(zip.value.bin)).toBe(true);
  });
});

describe("Tracelet's own export files", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const exp = {
    start_timestamp: 1741600800,
    end_timestamp: 1741604400,
    region: "TL",
    batch_num: 1,
    batch_size: 1,
    signature_infos: [
      { verification_key_version: "v1", verification_key_id: "tracelet", signature_algorithm: SIGNATURE_ALGORITHM },
    ],
    keys: [
      {
        key_data: randomBytes(16),
        transmission_risk_level: 0,
        rolling_start_interval_number: 2901744,
        rolling_period: 144,
        report_type: "CONFIRMED_TEST" as const,
        days_since_onset_of_symptoms: -3,
      },
    ],
    revised_keys: [
      {
        key_data: randomBytes(16),
        rolling_start_interval_number: 2901600,
        rolling_period: 144,
        report_type: "REVOKED" as const,
      },
    ],
  };

  test("encode, sign, zip, unzip, decode, verify", async () => {
    const bin = encodeExportBin(exp);
    const sig = encodeSignatureList([
      { signature_info: exp.signature_infos[0], batch_num: 1, batch_size: 1, signature: signExport(bin, privateKey) },
    ]);
    const zip = await zipExport(bin, sig, new Date(exp.end_timestamp * 1000));
    const again = await zipExport(bin, sig, new Date(exp.end_timestamp * 1000));
    expect(zip.equals(again)).toBe(true); // deterministic bytes
    const files = await unzipExport(zip);
    if (!files.ok) throw new Error(files.error);
    const sigs = decodeSignatureList(files.value.sig);
    if (!sigs.ok) throw new Error(sigs.error);
    expect(verifyExportSignature(files.value.bin, sigs.value[0].signature!, publicKey)).toBe(true);
    const decoded = decodeExportBin(files.value.bin);
    if (!decoded.ok) throw new Error(decoded.error);
    expect(decoded.value.keys[0]).toMatchObject({ report_type: "CONFIRMED_TEST", days_since_onset_of_symptoms: -3 });
    expect(Buffer.from(decoded.value.keys[0].key_data)).toEqual(exp.keys[0].key_data);
    expect(decoded.value.revised_keys[0].report_type).toBe("REVOKED");
  });

  test.each([
    ["wrong header", Buffer.concat([Buffer.from("EK Export v2    "), Buffer.alloc(4)])],
    ["short", Buffer.from("EK Export")],
    [
      "garbage protobuf",
      Buffer.concat([Buffer.from(EXPORT_HEADER, "latin1"), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])]),
    ],
  ])("decodeExportBin refuses %s", (_n, b) => {
    expect(decodeExportBin(b).ok).toBe(false);
  });

  test("unzipExport refuses non-zips and zips without the two files", async () => {
    expect((await unzipExport(Buffer.from("not a zip"))).ok).toBe(false);
    const onlyBin = await zipExport(Buffer.from("x"), Buffer.from("y"), new Date(0));
    const broken = Buffer.from(onlyBin.toString("latin1").replace(/export\.sig/g, "export.txt"), "latin1");
    const r = await unzipExport(broken);
    expect(r.ok).toBe(false);
  });
});

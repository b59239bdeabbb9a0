import * as crypto from "crypto";
import * as fs from "fs";
import { fromHex, toHex } from "../../firmware/src/protocol/bytes";
import { pureCrypto } from "../../firmware/src/protocol/crypto";
import { computeAem, computeRpi, deriveAemk, deriveRpik, enIntervalNumber } from "../../firmware/src/protocol/gaen";
import { sha256 } from "../../firmware/src/protocol/sha256";
import { aes128Ecb } from "../../firmware/src/protocol/aes128";
import { hkdfSha256, hmacSha256 } from "../../firmware/src/protocol/hmac";
import { VECTORS } from "../helpers/paths";

interface Vectors {
  keyGenerationUnixSeconds: number;
  firstIntervalNumber: number;
  tek: string;
  rpik: string;
  aemk: string;
  metadata: string;
  intervals: { intervalNumber: number; rpi: string; aem: string }[];
}

const v: Vectors = JSON.parse(fs.readFileSync(VECTORS, "utf8"));
const hex = (s: string) => {
  const r = fromHex(s, -1);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

describe("Exposure Notification v1.2 official vectors through the pure code", () => {
  const tek = hex(v.tek);
  it("derives RPIK and AEMK", () => {
    expect(toHex(deriveRpik(pureCrypto, tek))).toBe(v.rpik);
    expect(toHex(deriveAemk(pureCrypto, tek))).toBe(v.aemk);
  });
  it("has the key generation time's interval number", () => {
    expect(enIntervalNumber(v.keyGenerationUnixSeconds)).toBe(v.firstIntervalNumber);
  });
  it("computes RPI and AEM for all 144 intervals", () => {
    expect(v.intervals).toHaveLength(144);
    const rpik = deriveRpik(pureCrypto, tek);
    const aemk = deriveAemk(pureCrypto, tek);
    const meta = hex(v.metadata);
    for (const iv of v.intervals) {
      const rpi = computeRpi(pureCrypto, rpik, iv.intervalNumber);
      expect(toHex(rpi)).toBe(iv.rpi);
      expect(toHex(computeAem(pureCrypto, aemk, rpi, meta))).toBe(iv.aem);
      // AEM is its own inverse: decrypting gives the metadata back.
      expect(toHex(computeAem(pureCrypto, aemk, rpi, computeAem(pureCrypto, aemk, rpi, meta)))).toBe(v.metadata);
    }
  });
});

describe("pure primitives agree with Node's crypto", () => {
  const lengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 200, 1000];
  it.each(lengths)("SHA-256 of %i bytes", (n) => {
    const data = crypto.randomBytes(n);
    expect(toHex(sha256(new Uint8Array(data)))).toBe(crypto.createHash("sha256").update(data).digest("hex"));
  });
  it.each([0, 16, 64, 65, 100])("HMAC-SHA256 with a %i-byte key", (n) => {
    const key = crypto.randomBytes(n);
    const msg = crypto.randomBytes(77);
    expect(toHex(hmacSha256(sha256, key, msg))).toBe(crypto.createHmac("sha256", key).update(msg).digest("hex"));
  });
  it.each([16, 32, 42, 100])("HKDF-SHA256 of %i bytes", (len) => {
    const ikm = crypto.randomBytes(16);
    const salt = crypto.randomBytes(32);
    const expected = Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from("EN-TEST"), len)).toString("hex");
    expect(toHex(hkdfSha256(sha256, ikm, salt, "EN-TEST", len))).toBe(expected);
  });
  it("AES-128-ECB matches for random keys and blocks", () => {
    for (let i = 0; i < 200; i++) {
      const key = crypto.randomBytes(16);
      const block = crypto.randomBytes(16);
      const c = crypto.createCipheriv("aes-128-ecb", key, null);
      c.setAutoPadding(false);
      const expected = Buffer.concat([c.update(block), c.final()]).toString("hex");
      expect(toHex(aes128Ecb(key, block))).toBe(expected);
    }
  });
  it("AES-128 FIPS-197 appendix C.1 vector", () => {
    expect(toHex(aes128Ecb(hex("000102030405060708090a0b0c0d0e0f"), hex("00112233445566778899aabbccddeeff")))).toBe(
      "69c4e0d86a7b0430d8cdb78070b4c55a",
    );
  });
});

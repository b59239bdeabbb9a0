import * as nodeCrypto from "crypto";
import { BoardProfile } from "../boards/profile";
import { toBytes } from "./bytes";

/**
 * `require("crypto")` and the global `AES` as each board has them (boards/<id>.json `crypto`, shared/ESPRUINO.md):
 * Puck.js SHA1/SHA256/AES, MDBT42Q SHA1/SHA256, Pixl.js SHA1, Bangle.js 2 SHA256 and global AES.ccmEncrypt/
 * ccmDecrypt only, Bangle.js 1 none. Espruino's AES.encrypt with mode "CTR" ignores `iv`: the counter starts at zero
 * (libs/crypto/jswrap_crypto.c), reproduced here. Results are ArrayBuffers of the device's realm.
 */
export interface CryptoHost {
  /** Makes an ArrayBuffer in the device's realm. */
  buffer(b: Uint8Array): ArrayBuffer;
  newObject(): Record<string, unknown>;
  error(message: string): Error;
  /** Charges CPU time (seconds) for native crypto. */
  cpu(seconds: number): void;
}

const SHA_BLOCK_S = 0.00005;
const AES_BLOCK_S = 0.00002;

export function hasCryptoModule(board: BoardProfile): boolean {
  return board.crypto.sha1 || board.crypto.sha256 || board.crypto.aesEcb;
}

export function createCryptoModule(board: BoardProfile, host: CryptoHost): Record<string, unknown> {
  const m = host.newObject();
  const hash = (alg: string) => (data: unknown) => {
    const b = toBytes(data);
    host.cpu(SHA_BLOCK_S * (Math.floor(b.length / 64) + 1));
    return host.buffer(new Uint8Array(nodeCrypto.createHash(alg).update(b).digest()));
  };
  if (board.crypto.sha1) m.SHA1 = hash("sha1");
  if (board.crypto.sha256) m.SHA256 = hash("sha256");
  if (board.crypto.aesEcb) {
    const aes = host.newObject();
    aes.encrypt = (data: unknown, key: unknown, options?: { mode?: string; iv?: unknown }) =>
      aesOp(host, true, data, key, options);
    aes.decrypt = (data: unknown, key: unknown, options?: { mode?: string; iv?: unknown }) =>
      aesOp(host, false, data, key, options);
    m.AES = aes;
  }
  return m;
}

function aesOp(
  host: CryptoHost,
  encrypt: boolean,
  data: unknown,
  key: unknown,
  options?: { mode?: string; iv?: unknown },
) {
  const d = toBytes(data);
  const k = toBytes(key);
  if (k.length !== 16 && k.length !== 24 && k.length !== 32) throw host.error("Invalid key length");
  const mode = String((options && options.mode) || "CBC").toUpperCase();
  const bits = k.length * 8;
  let iv = options && options.iv !== undefined ? toBytes(options.iv) : new Uint8Array(16);
  if (iv.length !== 16) {
    const x = new Uint8Array(16);
    x.set(iv.subarray(0, 16));
    iv = x;
  }
  host.cpu(AES_BLOCK_S * (Math.ceil(d.length / 16) + 1));
  let alg: string;
  switch (mode) {
    case "ECB":
      alg = `aes-${bits}-ecb`;
      break;
    case "CBC":
      alg = `aes-${bits}-cbc`;
      break;
    case "CFB":
      alg = `aes-${bits}-cfb`;
      break;
    case "OFB":
      alg = `aes-${bits}-ofb`;
      break;
    case "CTR":
      alg = `aes-${bits}-ctr`;
      // Espruino's quirk: the iv option is ignored and the counter starts at zero.
      iv = new Uint8Array(16);
      break;
    default:
      throw host.error(`Unknown AES mode "${mode}"`);
  }
  if ((mode === "ECB" || mode === "CBC") && d.length % 16 !== 0) {
    throw host.error("Message length must be a multiple of 16 bytes");
  }
  const c = encrypt
    ? nodeCrypto.createCipheriv(alg, k, mode === "ECB" ? null : iv)
    : nodeCrypto.createDecipheriv(alg, k, mode === "ECB" ? null : iv);
  c.setAutoPadding(false);
  const out = Buffer.concat([c.update(d), c.final()]);
  return host.buffer(new Uint8Array(out));
}

/** Bangle.js 2's global AES object: CCM only (no ECB), as shared/ESPRUINO.md lists. */
export function createGlobalAes(host: CryptoHost): Record<string, unknown> {
  const aes = host.newObject();
  aes.ccmEncrypt = (message: unknown, key: unknown, nonce: unknown, tagLen?: number) => {
    const m = toBytes(message);
    const k = toBytes(key);
    const n = toBytes(nonce);
    const tl = tagLen || 4;
    host.cpu(AES_BLOCK_S * (Math.ceil(m.length / 16) * 2 + 2));
    const c = nodeCrypto.createCipheriv(`aes-${k.length * 8}-ccm` as nodeCrypto.CipherCCMTypes, k, n, {
      authTagLength: tl,
    });
    const data = Buffer.concat([c.update(m), c.final()]);
    const r = host.newObject();
    r.data = host.buffer(new Uint8Array(data));
    r.tag = host.buffer(new Uint8Array(c.getAuthTag()));
    return r;
  };
  aes.ccmDecrypt = (message: unknown, key: unknown, nonce: unknown, tag: unknown) => {
    const m = toBytes(message);
    const k = toBytes(key);
    const n = toBytes(nonce);
    const t = toBytes(tag);
    host.cpu(AES_BLOCK_S * (Math.ceil(m.length / 16) * 2 + 2));
    try {
      const c = nodeCrypto.createDecipheriv(`aes-${k.length * 8}-ccm` as nodeCrypto.CipherCCMTypes, k, n, {
        authTagLength: t.length,
      });
      c.setAuthTag(t);
      return host.buffer(new Uint8Array(Buffer.concat([c.update(m), c.final()])));
    } catch {
      throw host.error("CCM tag mismatch");
    }
  };
  return aes;
}

import { createCipheriv, createDecipheriv, randomBytes } from "crypto";

/**
 * AES-256-GCM sealing: nonce (12 B) || ciphertext || tag (16 B). The associated data binds a ciphertext to its
 * row (for escrow secrets: the band id), so a sealed secret copied onto another band's row does not open.
 */
const NONCE = 12;
const TAG = 16;

export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE);
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(aad);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([nonce, body, c.getAuthTag()]);
}

/** Opens a sealed blob; undefined when it was tampered with, sealed under another key or for another row. */
export function open(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer | undefined {
  if (sealed.length < NONCE + TAG) return undefined;
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  try {
    const d = createDecipheriv("aes-256-gcm", key, buf.subarray(0, NONCE));
    d.setAAD(aad);
    d.setAuthTag(buf.subarray(buf.length - TAG));
    return Buffer.concat([d.update(buf.subarray(NONCE, buf.length - TAG)), d.final()]);
  } catch {
    return undefined;
  }
}

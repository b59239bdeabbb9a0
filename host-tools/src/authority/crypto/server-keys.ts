import { createHmac, hkdfSync } from "crypto";

/**
 * One 32-byte server key, from which every purpose gets its own subkey (HKDF-SHA256, distinct labels), so a
 * leak or misuse of one derived key says nothing about the others.
 */
export interface ServerSubkeys {
  /** AES-256-GCM key for band escrow secrets at rest. */
  escrowSeal: Buffer;
  /** AES-256-GCM key for band sync keys at rest (kiosks read them; see bands.ts). */
  syncKeySeal: Buffer;
  /** AES-256-GCM key for revision tokens. */
  revisionSeal: Buffer;
  /** HMAC key under which verification codes are stored (short codes must not be brute-forced offline). */
  codeHash: Buffer;
}

export function deriveServerSubkeys(serverKey: Uint8Array): ServerSubkeys {
  if (serverKey.length !== 32) throw new Error("server key must be 32 bytes");
  const sub = (label: string): Buffer =>
    Buffer.from(hkdfSync("sha256", serverKey, Buffer.alloc(0), "tracelet-authority/" + label, 32));
  return {
    escrowSeal: sub("escrow-seal"),
    syncKeySeal: sub("sync-key-seal"),
    revisionSeal: sub("revision-seal"),
    codeHash: sub("code-hash"),
  };
}

/** How verification codes are stored: HMAC-SHA256 under the code-hash subkey. */
export function hashCode(codeHashKey: Uint8Array, code: string): Buffer {
  return createHmac("sha256", codeHashKey).update(code, "utf8").digest();
}

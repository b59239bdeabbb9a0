import { aes128Ecb } from "./aes128";
import { Sha256Fn } from "./hmac";
import { sha256 } from "./sha256";

/**
 * The two primitives every Tracelet protocol needs. The band passes native implementations where its board has
 * them (see boards/*.json `crypto`) and the pure ones otherwise; host tools always use the pure ones so that they
 * compute exactly what the firmware computes.
 */
export interface CryptoPrims {
  sha256: Sha256Fn;
  /** AES-128-ECB encryption of one 16-byte block. */
  aesEcb: (key: Uint8Array, block: Uint8Array) => Uint8Array;
}

export const pureCrypto: CryptoPrims = { sha256: sha256, aesEcb: aes128Ecb };

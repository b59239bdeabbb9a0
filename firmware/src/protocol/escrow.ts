import { asciiBytes, concatBytes, newBytes, writeU32LE } from "./bytes";
import { CryptoPrims } from "./crypto";
import { hmacSha256 } from "./hmac";

/**
 * Escrow-mode daily keys. In the `escrow` deployment the band derives each day's TEK from its band secret so
 * the authority, which holds the secret from provisioning, can re-derive every registered band's RPIs and resolve
 * a positive band's log to the bands it met (the TraceTogether-style option; its privacy cost is that the
 * authority can recognise every escrow band's advertisements).
 *
 *   TEK(day) = first 16 bytes of HMAC-SHA256(bandSecret, "TL-ESCROW-TEK" || uint32 LE day)
 *   day      = rollingStartNumber / 144 (days since the Unix epoch, UTC)
 *
 * In the `private` deployment TEKs are random (E.hwRand) and this function is not used.
 */
export function escrowTek(c: CryptoPrims, bandSecret: Uint8Array, day: number): Uint8Array {
  const d = newBytes(4);
  writeU32LE(d, 0, day);
  return hmacSha256(c.sha256, bandSecret, concatBytes(asciiBytes("TL-ESCROW-TEK"), d)).subarray(0, 16);
}

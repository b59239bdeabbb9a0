import { toHex } from "../../firmware/src/protocol/bytes";

/**
 * What an attacker holding a band reads: the raw flash image, every byte, erased files and all (issue 19 finding 4).
 * Returns the hex of each needle found anywhere in the image.
 */
export function foundInFlash(image: Uint8Array, needles: Uint8Array[]): string[] {
  const hay = Buffer.from(image.buffer, image.byteOffset, image.length);
  return needles.filter((n) => hay.indexOf(Buffer.from(n)) >= 0).map((n) => toHex(n));
}

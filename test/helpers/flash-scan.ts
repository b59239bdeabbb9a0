import { toHex } from "../../firmware/src/protocol/bytes";
import { decodeTekPayload, OP_TEK, OP_TEKS_END } from "../../firmware/src/protocol/sync";

/**
 * What an attacker holding a band reads: the raw flash image, every byte, erased files and all (issue 19 finding 4).
 * Returns the hex of each needle found anywhere in the image.
 */
export function foundInFlash(image: Uint8Array, needles: Uint8Array[]): string[] {
  const hay = Buffer.from(image.buffer, image.byteOffset, image.length);
  return needles.filter((n) => hay.indexOf(Buffer.from(n)) >= 0).map((n) => toHex(n));
}

/** A READ_TEKS reply (band frames, decrypted): the day of each key sent, in order, and the count TEKS_END gives. */
export function tekDays(frames: { op: number; payload: Uint8Array }[]): { count: number; days: number[] } {
  const days = frames
    .filter((f) => f.op === OP_TEK)
    .map((f) => {
      const d = decodeTekPayload(f.payload);
      if (!d.ok) throw new Error(d.error);
      return d.value.entry.rollingStartNumber / 144;
    });
  const end = frames.find((f) => f.op === OP_TEKS_END);
  return { count: end ? end.payload[0] : -1, days };
}

import { decodeBeacon } from "../../firmware/src/protocol/advert";
import { toHex } from "../../firmware/src/protocol/bytes";
import { decodeDiscoveryAdvert } from "../../firmware/src/protocol/sync";

/**
 * What a sniffer keys an advert's payload by, to tell identities apart (issue 19 finding 5): the RPI of an Exposure
 * Notification advert, the nonce of a discovery advert, else the whole payload: "rpi:<hex>", "nonce:<hex>", "other:<hex>".
 */
export function payloadKey(data: Uint8Array): string {
  const b = decodeBeacon(data);
  if (b.ok && b.value.kind === "en") return "rpi:" + toHex(b.value.rpi);
  const d = decodeDiscoveryAdvert(data);
  if (d.ok) return "nonce:" + toHex(d.value.nonce);
  return "other:" + toHex(data);
}

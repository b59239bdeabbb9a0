import { createHash, createHmac, timingSafeEqual } from "crypto";

/**
 * The verification protocol's key binding (google/exposure-notifications-verification-server): the client
 * HMACs its keys with a random hmacKey, the certificate carries that HMAC as `tekmac`, and the key server
 * recomputes it from the published keys, so a certificate cannot be used for other keys.
 *
 * Message: keys sorted by their base64 text, each "key.rollingStartNumber.rollingPeriod.transmissionRisk",
 * joined by ",". When every transmission risk is 0 or absent, clients may also omit the ".tr" part, so both
 * forms are accepted (as the reference server does).
 */
export interface MacKey {
  /** The key exactly as the client sent it (base64 text): the MAC is over the text, not the bytes. */
  key: string;
  rollingStartNumber: number;
  rollingPeriod: number;
  transmissionRisk?: number;
}

export function tekmacMessages(keys: readonly MacKey[]): string[] {
  const sorted = [...keys].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const withRisk = sorted
    .map((k) => `${k.key}.${k.rollingStartNumber}.${k.rollingPeriod}.${k.transmissionRisk ?? 0}`)
    .join(",");
  if (sorted.some((k) => (k.transmissionRisk ?? 0) !== 0)) return [withRisk];
  const withoutRisk = sorted.map((k) => `${k.key}.${k.rollingStartNumber}.${k.rollingPeriod}`).join(",");
  return [withRisk, withoutRisk];
}

/** The HMAC a client puts in `ekeyhmac` (the first, with-risk form). */
export function computeTekmac(keys: readonly MacKey[], hmacKey: Uint8Array): Buffer {
  return createHmac("sha256", hmacKey).update(tekmacMessages(keys)[0], "utf8").digest();
}

/** True when `claim` (raw bytes) is the HMAC of these keys under `hmacKey`, in either accepted form. */
export function tekmacMatches(keys: readonly MacKey[], hmacKey: Uint8Array, claim: Uint8Array): boolean {
  let ok = false;
  for (const m of tekmacMessages(keys)) {
    const mac = createHmac("sha256", hmacKey).update(m, "utf8").digest();
    if (mac.length === claim.length && timingSafeEqual(mac, claim)) ok = true;
  }
  return ok;
}

/**
 * Tracelet's extension for band-log uploads: `logmac` = HMAC(hmacKey, "tracelet-band-log:" || hex SHA-256 of
 * the TLX body). The label separates it from tekmac messages (which start with base64 key text).
 */
export function logmacMessage(body: Uint8Array): string {
  return "tracelet-band-log:" + createHash("sha256").update(body).digest("hex");
}

export function computeLogmac(body: Uint8Array, hmacKey: Uint8Array): Buffer {
  return createHmac("sha256", hmacKey).update(logmacMessage(body), "utf8").digest();
}

export function logmacMatches(body: Uint8Array, hmacKey: Uint8Array, claim: Uint8Array): boolean {
  const mac = computeLogmac(body, hmacKey);
  return mac.length === claim.length && timingSafeEqual(mac, claim);
}

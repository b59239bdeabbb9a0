import { createHash, timingSafeEqual } from "crypto";

export type Role = "admin" | "kiosk" | "flasher";

export interface ApiKeyEntry {
  /** A label for the audit log (never the key itself). */
  name: string;
  role: Role;
  /** SHA-256 of the key: only digests are kept in memory after start-up. */
  digest: Buffer;
}

export interface Actor {
  name: string;
  role: Role;
}

export function digestApiKey(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/**
 * Finds the API key a request presented. Every configured digest is compared in constant time and the loop
 * never exits early, so response timing says nothing about how close a guess was or which key matched.
 */
export function matchApiKey(keys: readonly ApiKeyEntry[], presented: string | undefined): Actor | undefined {
  if (typeof presented !== "string" || presented.length === 0 || presented.length > 512) return undefined;
  const d = digestApiKey(presented);
  let found: ApiKeyEntry | undefined;
  for (const k of keys) {
    if (timingSafeEqual(k.digest, d) && !found) found = k;
  }
  return found ? { name: found.name, role: found.role } : undefined;
}

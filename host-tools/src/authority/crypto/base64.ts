/**
 * Strict base64 for wire fields. Node's Buffer.from(s, "base64") silently skips bad characters; a key server
 * must not, so this accepts the standard or URL-safe alphabet, with or without padding, and rejects anything
 * that does not round-trip (stray characters, non-zero trailing bits).
 */
export function decodeBase64Strict(s: string): Buffer | undefined {
  if (typeof s !== "string" || s.length === 0) return undefined;
  const unpadded = s.replace(/=+$/, "");
  if (s.length - unpadded.length > 2) return undefined;
  if (!/^[A-Za-z0-9+/]*$/.test(unpadded) && !/^[A-Za-z0-9_-]*$/.test(unpadded)) return undefined;
  if (unpadded.length % 4 === 1) return undefined;
  if (s.length !== unpadded.length && s.length % 4 !== 0) return undefined;
  const std = unpadded.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Buffer.from(std, "base64");
  if (bytes.toString("base64").replace(/=+$/, "") !== std) return undefined;
  return bytes;
}

export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

import { KeyObject, sign, verify } from "crypto";
import { base64url, decodeBase64Strict } from "./base64";

/**
 * ES256 JSON Web Tokens, by hand: base64url(header).base64url(claims).base64url(r || s) with an ECDSA P-256
 * SHA-256 signature in IEEE P1363 form (64 bytes), as RFC 7518 requires. Only ES256 is ever accepted: the
 * algorithm in the header is checked, never trusted ("none" and HMAC tokens are refused).
 */
export const MAX_JWT_LENGTH = 4096;

export interface JwtHeader {
  alg: "ES256";
  typ?: string;
  kid?: string;
}

export function signJwt(claims: Record<string, unknown>, key: KeyObject, kid: string): string {
  const header: JwtHeader = { alg: "ES256", typ: "JWT", kid };
  const data =
    base64url(Buffer.from(JSON.stringify(header), "utf8")) + "." + base64url(Buffer.from(JSON.stringify(claims)));
  const sig = sign("sha256", Buffer.from(data, "ascii"), { key, dsaEncoding: "ieee-p1363" });
  return data + "." + base64url(sig);
}

export type JwtResult = { ok: true; header: JwtHeader; claims: Record<string, unknown> } | { ok: false; error: string };

/** Verifies the signature against the public key named by `kid` and returns header and claims. */
export function verifyJwt(token: string, keys: ReadonlyMap<string, KeyObject>): JwtResult {
  if (typeof token !== "string" || token.length > MAX_JWT_LENGTH) return { ok: false, error: "malformed token" };
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) {
    return { ok: false, error: "malformed token" };
  }
  const header = parseJsonPart(parts[0]);
  if (!header || header.alg !== "ES256") return { ok: false, error: "unsupported token algorithm (ES256 only)" };
  const kid = typeof header.kid === "string" ? header.kid : undefined;
  let key: KeyObject | undefined;
  if (kid !== undefined) key = keys.get(kid);
  else if (keys.size === 1) key = keys.values().next().value;
  if (!key) return { ok: false, error: "unknown signing key" };
  const sig = decodeBase64Strict(parts[2]);
  if (!sig || sig.length !== 64) return { ok: false, error: "bad signature encoding" };
  const valid = verify(
    "sha256",
    Buffer.from(parts[0] + "." + parts[1], "ascii"),
    { key, dsaEncoding: "ieee-p1363" },
    sig,
  );
  if (!valid) return { ok: false, error: "bad signature" };
  const claims = parseJsonPart(parts[1]);
  if (!claims) return { ok: false, error: "malformed claims" };
  return { ok: true, header: header as unknown as JwtHeader, claims };
}

function parseJsonPart(part: string): Record<string, unknown> | undefined {
  const bytes = decodeBase64Strict(part);
  if (!bytes) return undefined;
  try {
    const v: unknown = JSON.parse(bytes.toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

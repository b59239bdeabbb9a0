import { KeyObject } from "crypto";
import { compactVerify, CompactSign } from "jose";

/**
 * ES256 JSON Web Tokens on `jose`: base64url(header).base64url(claims).base64url(r || s) with an ECDSA P-256
 * SHA-256 signature in the 64-byte form RFC 7518 requires. Only ES256 is ever accepted (`algorithms`
 * allow-list: "none" and HMAC tokens are refused before any key is used). Claims are checked by the caller
 * (verification.ts), which answers each failure with its own message.
 */
export const MAX_JWT_LENGTH = 4096;

export interface JwtHeader {
  alg: "ES256";
  typ?: string;
  kid?: string;
}

const encoder = new TextEncoder();

export function signJwt(claims: Record<string, unknown>, key: KeyObject, kid: string): Promise<string> {
  const header = { alg: "ES256", typ: "JWT", kid };
  return new CompactSign(encoder.encode(JSON.stringify(claims))).setProtectedHeader(header).sign(key);
}

export type JwtResult = { ok: true; header: JwtHeader; claims: Record<string, unknown> } | { ok: false; error: string };

/** Verifies the signature against the public key named by `kid` and returns header and claims. */
export async function verifyJwt(token: string, keys: ReadonlyMap<string, KeyObject>): Promise<JwtResult> {
  if (typeof token !== "string" || token.length > MAX_JWT_LENGTH) return { ok: false, error: "malformed token" };
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return { ok: false, error: "malformed token" };
  let unknownKey = false;
  try {
    const r = await compactVerify(
      token,
      (header) => {
        const kid = typeof header.kid === "string" ? header.kid : undefined;
        const key = kid !== undefined ? keys.get(kid) : keys.size === 1 ? keys.values().next().value : undefined;
        if (!key) {
          unknownKey = true;
          throw new Error("unknown signing key");
        }
        return key;
      },
      { algorithms: ["ES256"] },
    );
    const claims = parseClaims(r.payload);
    if (!claims) return { ok: false, error: "malformed claims" };
    return { ok: true, header: r.protectedHeader as JwtHeader, claims };
  } catch (e) {
    if (unknownKey) return { ok: false, error: "unknown signing key" };
    const code = (e as { code?: string }).code;
    if (code === "ERR_JOSE_ALG_NOT_ALLOWED") return { ok: false, error: "unsupported token algorithm (ES256 only)" };
    if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") return { ok: false, error: "bad signature" };
    return { ok: false, error: "malformed token" };
  }
}

function parseClaims(payload: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Request-target checks (RFC 9112 section 3.2). The authority answers origin-form targets (`/path?query`) and
 * absolute-form ones (`http://host:port/path`, which a proxy may send; reduced to origin-form before
 * routing). Everything else is a malformed target and gets 400 before any routing or parsing happens:
 * other forms (`*`, authority-form), a path starting with `//` (a network-path reference that URL parsers
 * read as a host), characters outside RFC 3986 `pchar` such as `[`, broken percent-encoding, and escapes
 * that do not decode to UTF-8.
 */
const ORIGIN_FORM = /^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?$/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const ABSOLUTE_FORM = /^https?:\/\//i;
/** Longest target accepted; the API's longest legitimate target is well under this. */
export const MAX_TARGET_LENGTH = 2048;

/** The origin-form of an absolute-form target; anything else is returned unchanged (and checked later). */
export function originForm(target: string): string {
  if (!ABSOLUTE_FORM.test(target) || target.length > MAX_TARGET_LENGTH) return target;
  try {
    const u = new URL(target);
    return u.pathname + u.search;
  } catch {
    return target; // e.g. port 99999: left as is, so malformedTarget refuses it
  }
}

export function malformedTarget(target: string): boolean {
  if (target.length > MAX_TARGET_LENGTH || !ORIGIN_FORM.test(target) || BAD_ESCAPE.test(target)) return true;
  const q = target.indexOf("?");
  try {
    decodeURIComponent(q < 0 ? target : target.slice(0, q));
    return false;
  } catch {
    return true;
  }
}

/** Byte conversions between the host and values living inside a device's VM (other realm: no instanceof). */

export function isArrayBuffer(v: unknown): v is ArrayBuffer {
  return Object.prototype.toString.call(v) === "[object ArrayBuffer]";
}

/**
 * Espruino's JSV_GET_AS_CHAR_ARRAY / jsvIterateCallbackToBytes: strings give their char codes (bytes), arrays their
 * elements (nested arrays and strings flattened), ArrayBuffers and views their bytes, numbers one byte.
 */
export function toBytes(v: unknown): Uint8Array {
  if (typeof v === "string") {
    const out = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = v.charCodeAt(i) & 255;
    return out;
  }
  if (ArrayBuffer.isView(v)) {
    const view = v as ArrayBufferView;
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
  }
  if (isArrayBuffer(v)) return new Uint8Array(v).slice();
  if (Array.isArray(v)) {
    const parts: number[] = [];
    const walk = (a: unknown[]) => {
      for (const x of a) {
        if (typeof x === "number") parts.push(x & 255);
        else if (typeof x === "boolean") parts.push(x ? 1 : 0);
        else if (typeof x === "string" || Array.isArray(x) || ArrayBuffer.isView(x) || isArrayBuffer(x)) {
          for (const b of toBytes(x)) parts.push(b);
        } else parts.push(0);
      }
    };
    walk(v);
    return Uint8Array.from(parts);
  }
  if (typeof v === "number") return Uint8Array.of(v & 255);
  if (typeof v === "boolean") return Uint8Array.of(v ? 1 : 0);
  return new Uint8Array(0);
}

export function bytesToBinaryString(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode.apply(null, Array.from(b.subarray(i, i + 4096)));
  return s;
}

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));

export function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i]];
  return s;
}

/** Canonical UUID text: "fd6f" for 16-bit ids, lowercase dashed form for 128-bit ones. */
export function normUuid(u: unknown): string {
  if (typeof u === "number") return (u & 0xffff).toString(16).padStart(4, "0");
  let s = String(u).trim().toLowerCase();
  if (s.startsWith("0x")) s = s.slice(2);
  if (/^[0-9a-f]{1,4}$/.test(s)) return s.padStart(4, "0");
  const plain = s.replace(/-/g, "");
  if (/^[0-9a-f]{32}$/.test(plain)) {
    return `${plain.slice(0, 8)}-${plain.slice(8, 12)}-${plain.slice(12, 16)}-${plain.slice(16, 20)}-${plain.slice(20)}`;
  }
  if (/^[0-9]+$/.test(s)) return (Number(s) & 0xffff).toString(16).padStart(4, "0");
  throw new Error(`Invalid UUID: ${String(u)}`);
}

/** UUID as noble writes it: lowercase hex without dashes. */
export function nobleUuid(u: string): string {
  return u.replace(/-/g, "").toLowerCase();
}

/** "aa:bb:cc:dd:ee:ff" from 6 bytes (first byte most significant, as printed). */
export function formatAddress(b: Uint8Array): string {
  return Array.from(b)
    .map((x) => x.toString(16).padStart(2, "0"))
    .join(":");
}

export interface AdField {
  type: number;
  data: Uint8Array;
}

/** AD structures as Espruino's scan callback walks them: length, type, data; stops at a zero length or the end. */
export function adFields(raw: Uint8Array): AdField[] {
  const out: AdField[] = [];
  let i = 0;
  while (i + 1 < raw.length) {
    const len = raw[i];
    if (len === 0) {
      i += 1;
      continue;
    }
    const end = Math.min(raw.length, i + 1 + len);
    out.push({ type: raw[i + 1], data: raw.slice(i + 2, end) });
    i += len + 1;
  }
  return out;
}

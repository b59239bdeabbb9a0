import { copyBytes, Decoded, fail, newBytes, ok } from "./bytes";
import { BLUEZONE_COMPANY_ID, EN_ADVERT_LENGTH, EN_SERVICE_UUID } from "./advert-constants";

export * from "./advert-constants";

/** Builds the exact 31-byte Exposure Notification advertising packet. */
export function encodeEnAdvert(rpi: Uint8Array, aem: Uint8Array): Uint8Array {
  const p = newBytes(EN_ADVERT_LENGTH);
  // Flags: LE General Discoverable, BR/EDR not supported (0x1A as GAEN specifies); complete list of 16-bit
  // service UUIDs: 0xFD6F; service data: length 0x17, type 0x16, UUID, then RPI and AEM.
  p.set([0x02, 0x01, 0x1a, 0x03, 0x03, 0x6f, 0xfd, 0x17, 0x16, 0x6f, 0xfd], 0);
  p.set(rpi, 11);
  p.set(aem, 27);
  return p;
}

export interface EnBeacon {
  rpi: Uint8Array;
  aem: Uint8Array;
}

/** Decodes 0xFD6F service data (the 20 bytes after the UUID): RPI then AEM. */
export function decodeEnServiceData(data: Uint8Array): Decoded<EnBeacon> {
  if (!data || data.length !== 20) return fail("EN service data must be 20 bytes, got " + (data ? data.length : 0));
  return ok({ rpi: copyBytes(data, 0, 16), aem: copyBytes(data, 16, 4) });
}

/** Decodes Bluezone manufacturer data given without the company id (as Espruino's `manufacturerData`). */
export function decodeBluezoneData(manufacturer: number, data: Uint8Array): Decoded<Uint8Array> {
  if (manufacturer !== BLUEZONE_COMPANY_ID) return fail("not a Bluezone company id");
  if (!data || data.length < 12) return fail("Bluezone id must be 12 bytes, got " + (data ? data.length : 0));
  return ok(copyBytes(data, 0, 12));
}

/** Builds a Bluezone-style advert (flags + manufacturer data), used by simulated phones and tests. */
export function encodeBluezoneAdvert(id: Uint8Array): Uint8Array {
  const p = newBytes(3 + 2 + 2 + 12);
  p[0] = 0x02;
  p[1] = 0x01;
  p[2] = 0x06;
  p[3] = 15;
  p[4] = 0xff;
  p[5] = BLUEZONE_COMPANY_ID & 255;
  p[6] = BLUEZONE_COMPANY_ID >> 8;
  p.set(id, 7);
  return p;
}

export interface AdStructure {
  type: number;
  data: Uint8Array;
}

/** Splits a raw advertising payload into AD structures; rejects truncated or oversize packets. */
export function parseAdStructures(raw: Uint8Array): Decoded<AdStructure[]> {
  if (raw.length > EN_ADVERT_LENGTH) return fail("advert longer than 31 bytes");
  const out: AdStructure[] = [];
  let i = 0;
  while (i < raw.length) {
    const len = raw[i];
    if (len === 0) break; // Zero length marks early end of significant data.
    if (i + 1 + len > raw.length) return fail("AD structure at " + i + " runs past the end of the advert");
    out.push({ type: raw[i + 1], data: copyBytes(raw, i + 2, len - 1) });
    i += 1 + len;
  }
  return ok(out);
}

export type Beacon = { kind: "en"; rpi: Uint8Array; aem: Uint8Array } | { kind: "bluezone"; id: Uint8Array };

/** Finds an Exposure Notification or Bluezone beacon in a raw advert. */
export function decodeBeacon(raw: Uint8Array): Decoded<Beacon> {
  const parsed = parseAdStructures(raw);
  if (!parsed.ok) return fail(parsed.error);
  const list = parsed.value;
  for (let i = 0; i < list.length; i++) {
    const s = list[i];
    if (s.type === 0x16 && s.data.length >= 2 && (s.data[0] | (s.data[1] << 8)) === EN_SERVICE_UUID) {
      const en = decodeEnServiceData(copyBytes(s.data, 2, s.data.length - 2));
      if (!en.ok) return fail(en.error);
      return ok({ kind: "en", rpi: en.value.rpi, aem: en.value.aem } as Beacon);
    }
    if (s.type === 0xff && s.data.length >= 2) {
      const company = s.data[0] | (s.data[1] << 8);
      if (company === BLUEZONE_COMPANY_ID) {
        const bz = decodeBluezoneData(company, copyBytes(s.data, 2, s.data.length - 2));
        if (!bz.ok) return fail(bz.error);
        return ok({ kind: "bluezone", id: bz.value } as Beacon);
      }
    }
  }
  return fail("no Exposure Notification or Bluezone data in advert");
}

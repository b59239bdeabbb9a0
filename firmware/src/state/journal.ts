import { newBytes, readU32LE, writeU32LE } from "../protocol/bytes";
import { crc8 } from "../protocol/record";
import { Flash } from "../hw/types";
import { CAPACITY, J_HEADER, SLOT, SLOTS } from "../tuning";

/**
 * A tiny append-only journal of 24-byte slots in a preallocated Storage file, for the band's small persistent
 * state (TEKs, clock, sync cursor, boot epoch). Two files alternate: when the active one is full the owner
 * writes its live entries into the other, which becomes valid only when its header slot (the last slot) is
 * written, and the old file is then erased and Storage compacted (an erased file's bytes stay in flash until a
 * compaction). A power cut at any point of the rewrite leaves one valid journal (one inside the compaction can lose
 * files, as Espruino's own compaction of a full Storage always could).
 *
 * Slot: type u8 | b u8 | a u32 | data 16 B | 0x00 | CRC-8 of bytes 0-22. Type 0xFF = never written. Writes go
 * in byte order, so the 0x00 in byte 22 proves every byte before it landed: a torn slot whose CRC happens to
 * match (1 in 256) is still rejected. A module-level singleton: see scan/encounter-table.ts.
 */

const NAMES = ["tl.j0", "tl.j1"];

export function encodeSlot(type: number, a: number, b: number, data: Uint8Array | undefined): Uint8Array {
  const s = newBytes(SLOT);
  s[0] = type;
  s[1] = b;
  writeU32LE(s, 2, a);
  if (data) s.set(data, 6);
  s[23] = crc8(s, 0, 23);
  return s;
}

function valid(s: Uint8Array): boolean {
  return s[22] === 0 && crc8(s, 0, 23) === s[23];
}

/** Visitor over valid entries, oldest first: (type, a, b, slot bytes; data at 6..21). */
export type JournalVisitor = (type: number, a: number, b: number, slot: Uint8Array) => void;

let flash: Flash;
let active = -1;
let gen = 0;
/** Next free slot in the active file. */
let used = CAPACITY;

/** Replays the active journal's valid entries, oldest first; returns the index of the first free slot. */
export function each(visit: JournalVisitor): number {
  if (active < 0) return CAPACITY;
  for (let i = 0; i < CAPACITY; i++) {
    const s = flash.read(NAMES[active], i * SLOT, SLOT);
    if (!s || s[0] === 0xff) return i;
    if (valid(s)) visit(s[0], readU32LE(s, 2), s[1], s);
  }
  return CAPACITY;
}

/** Finds the valid journal on `f` (erasing a stale or torn one) and replays its entries. */
export function load(f: Flash, visit: JournalVisitor): void {
  flash = f;
  let best = -1;
  let bestGen = -1;
  for (let i = 0; i < 2; i++) {
    const h = flash.read(NAMES[i], (SLOTS - 1) * SLOT, SLOT);
    if (h && h[0] === J_HEADER && valid(h) && readU32LE(h, 2) > bestGen) {
      best = i;
      bestGen = readU32LE(h, 2);
    }
  }
  // The other file is stale or torn (erasing a missing file does nothing).
  for (let i = 0; i < 2; i++) if (i !== best) flash.erase(NAMES[i]);
  active = best;
  gen = best < 0 ? 0 : bestGen;
  used = each(visit);
}

/** Appends one entry; false when the active journal is full or missing (the owner then calls rewrite). */
export function append(slot: Uint8Array): boolean {
  if (active < 0 || used >= CAPACITY) return false;
  return flash.write(NAMES[active], slot, used++ * SLOT);
}

/**
 * Writes `slots` (at most CAPACITY) to the other file, validates it with a header, erases the old one and compacts
 * Storage: the old file's entries (keys past retention among them) would otherwise stay readable in flash.
 */
export function rewrite(slots: Uint8Array[]): boolean {
  const next = active === 0 ? 1 : 0;
  const name = NAMES[next];
  flash.erase(name);
  const n = slots.length < CAPACITY ? slots.length : CAPACITY;
  const first = n ? slots[0] : encodeSlot(0, 0, 0, undefined);
  let ok = flash.write(name, first, 0, SLOTS * SLOT);
  for (let i = 1; ok && i < n; i++) ok = flash.write(name, slots[i], i * SLOT);
  if (ok) ok = flash.write(name, encodeSlot(J_HEADER, gen + 1, 0, undefined), (SLOTS - 1) * SLOT);
  if (!ok) return false;
  if (active >= 0) flash.erase(NAMES[active]);
  flash.compact();
  active = next;
  gen++;
  used = n ? n : 1;
  return true;
}

/** Removes both files (wipe; the caller compacts Storage). */
export function clear(): void {
  flash.erase(NAMES[0]);
  flash.erase(NAMES[1]);
  active = -1;
  gen = 0;
  used = CAPACITY;
}

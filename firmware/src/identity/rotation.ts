import { floor, newBytes, writeU32LE } from "../protocol/bytes";
import { CryptoPrims } from "../protocol/crypto";
import { computeAem, computeRpi, enIntervalNumber, enMetadata, EN_TEK_ROLLING_PERIOD } from "../protocol/gaen";
import { encodeEnAdvert } from "../protocol/advert";
import { discoveryToken, encodeDiscoveryAdvert } from "../protocol/sync";
import {
  ROTATE_EARLY_S,
  ROTATE_EPOCH_S,
  ROTATE_MIN_MS,
  ROTATE_QUIET_MIN_MS,
  ROTATE_QUIET_SPAN_MS,
  ROTATE_SPAN_MS,
  ROTATE_SPREAD_MS,
} from "../tuning";

/** What the band shows on air until the next rotation. */
export interface Identity {
  /** Random static address, as NRF.setAddress takes it. */
  address: string;
  /**
   * GAP device name a central reads on connect ("Band " and 4 random hex digits): Espruino's default is the board
   * name with the last 4 hex digits of the factory address, the same under every address. Never in an advert.
   */
  name: string;
  /**
   * The 31-byte Exposure Notification advert (RPI at bytes 11-26, AEM at 27-30) for the ENIN at rotation;
   * undefined without valid time (no Exposure Notification advert then).
   */
  en: Uint8Array | undefined;
  /** The discovery advert with a fresh nonce and its token (zeros when unprovisioned). */
  disc: Uint8Array;
  /** Milliseconds until the next rotation (nextRotationMs). */
  nextMs: number;
}

/** Uniform in [0, span] from 32 random bits. */
function upTo(rand32: () => number, span: number): number {
  return (rand32() >>> 0) % (span + 1);
}

/** Seconds into the current rotation interval at Unix time `unix`; a timer up to ROTATE_EARLY_S early is at 0. */
function into(unix: number): number {
  return unix - floor((unix + ROTATE_EARLY_S) / ROTATE_EPOCH_S) * ROTATE_EPOCH_S;
}

/**
 * Milliseconds from `unix` (a rotation's end, the new identity on air) to the next rotation's start. With valid time:
 * the next interval boundary or the one after (even odds: 10 or 20 minutes apart), plus a uniform
 * [0, ROTATE_SPREAD_MS] (tuning.ts); the bands in a room meet there. Without (-1): uniform in [10, 20] minutes.
 */
export function nextRotationMs(unix: number, rand32: () => number): number {
  if (unix < 0) return ROTATE_MIN_MS + upTo(rand32, ROTATE_SPAN_MS);
  return (ROTATE_EPOCH_S * (1 + upTo(rand32, 1)) - into(unix)) * 1000 + upTo(rand32, ROTATE_SPREAD_MS);
}

/**
 * How long the band stays silent between its old identity and its new one, from `unix` (-1: no valid time): past
 * the end of the spread after the boundary (so every band's old identity has gone quiet before any new one comes up),
 * then a uniform [ROTATE_QUIET_MIN_MS, + ROTATE_QUIET_SPAN_MS]. A rotation off the schedule (boot, a clock just
 * set) gets the random part only.
 */
export function quietMs(unix: number, rand32: () => number): number {
  const lead = unix < 0 ? 0 : ROTATE_SPREAD_MS - into(unix) * 1000;
  return (lead > 0 ? lead : 0) + ROTATE_QUIET_MIN_MS + upTo(rand32, ROTATE_QUIET_SPAN_MS);
}

/**
 * A random static address: the two top bits of the most significant byte set. (The reserved all-0 and all-1
 * random parts, 1 chance in 2^45, are not avoided.)
 */
export function randomStaticAddress(rand32: () => number): string {
  let s = "";
  for (let i = 0; i < 6; i++) {
    const b = (rand32() & 255) | (i ? 0 : 0xc0);
    s += (i ? ":" : "") + (b < 16 ? "0" : "") + b.toString(16);
  }
  return s + " random";
}

/** The per-day keys rotation needs: [TEK, RPIK, AEMK] (keys/tek-store.ts provides them). */
export type DayKeys = (day: number) => Uint8Array[];

/**
 * A new identity: address, GAP name, RPI/AEM for the ENIN at `unix` (skipped when `unix` < 0), discovery nonce/token.
 * Address, name and adverts always change together (the caller applies them at once, while the radio is asleep).
 */
export function rotateIdentity(
  c: CryptoPrims,
  keys: DayKeys,
  unix: number,
  txPowerDbm: number,
  syncKey: Uint8Array | undefined,
  rand32: () => number,
): Identity {
  let en: Uint8Array | undefined;
  if (unix >= 0) {
    const enin = enIntervalNumber(unix);
    const k = keys(floor(enin / EN_TEK_ROLLING_PERIOD));
    const rpi = computeRpi(c, k[1], enin);
    en = encodeEnAdvert(rpi, computeAem(c, k[2], rpi, enMetadata(txPowerDbm)));
  }
  const nonce = newBytes(4);
  // A provisioned band's nonce is never all zero (that marks an unprovisioned band).
  if (syncKey) writeU32LE(nonce, 0, rand32() | 1);
  return {
    address: randomStaticAddress(rand32),
    name: "Band " + (0x10000 | (rand32() & 0xffff)).toString(16).slice(1),
    en: en,
    disc: encodeDiscoveryAdvert(nonce, syncKey ? discoveryToken(c, syncKey, nonce) : newBytes(6)),
    nextMs: nextRotationMs(unix, rand32),
  };
}

import { Rng } from "./rng";

/**
 * The radio channel between two wearers: log-distance path loss, a slowly varying per-pair shadowing term
 * (Ornstein-Uhlenbeck, so a pair that is badly placed stays badly placed for minutes), body attenuation from each
 * wearer's heading (a body between the antennas costs up to `bodyLossDb`), walls between rooms, and fast fading per
 * packet.
 *
 *   RSSI = EIRP(tx) + rxGain(rx) - [PL(1 m) + 10 n log10(d) + body + walls + shadow(pair, t) + fading]
 *
 * EIRP is the *calibrated* transmit power a device reports (a band's board `radio.calibratedTxDbm`, a phone's
 * Exposure Notification calibration), so attenuation = reported tx power - RSSI equals the path loss term, as the
 * Exposure Notification risk model assumes.
 *
 * Calibration (test/sim/radio-calibration.test.ts, calibration.ts): the spread terms (pair shadowing, body loss,
 * fading) and the 1 m intercept are fitted to the Dublin tram measurements (Leith & Farrell 2020,
 * shared/datasets/dublin-tram-gaen): per-scan attenuation at 0.5-5 m has a mean of 63-67 dB, a spread between
 * handset pairs of ~6 dB and within a pair of ~4 dB, and barely depends on distance (metal carriage: exponent
 * ~0.4). The `dublin-tram` preset reproduces that environment; `indoor` keeps the calibrated spread and intercept
 * with the exponent of ordinary rooms (2.0, free-space-like line of sight indoors, a literature value, not fitted:
 * the assumed preset, kept for comparison and for the clinic queue).
 *
 * Indoor presets fitted to the EPFL GAEN measurements with camera ground truth (DP-3T, 2020: lunch tables, a mock
 * train, an office, a gym class in one atrium; calibration-indoor.ts, test/sim/radio-indoor-calibration.test.ts),
 * by a grid search minimising the per-distance-band KS distance of per-scan attenuation over 0-7 m:
 * - `epfl-indoor` (the care-home default): intercept 55 dB, exponent 1.3, pair shadowing 4.5 dB, fading 4 dB (the
 *   packets within one EPFL scan spread by 3.8 dB), 8 dB through a body in the path. The body loss is not
 *   separable from the intercept in the EPFL data (only their sum is); the body-position measurements (Ng,
 *   Spachos & Plataniotis 2021: two people facing each other, both phones on the body - pocket or backpack - vs both
 *   in hand) put 7-9 dB on each body in the path, so 8 dB it is, as for the tram.
 * - `epfl-indoor-light-body`: the equally good fit with 4 dB per body (intercept 59 dB, pair shadowing 5.5 dB),
 *   as the body-position sets with one phone in hand and one on the body show (hand-pocket 4.8 dB below both in
 *   hand, hand-backpack none; pocket-backpack shows none either, the data are not consistent there). A band on the
 *   wrist sits between the two cases; the firmware's logging floors must hold recall under both.
 * Walls (12 dB) are not fitted: the EPFL atrium has none.
 */
export interface RadioEnvironment {
  name: string;
  /** Path loss at 1 m without bodies in the way (dB). */
  pathLossAt1mDb: number;
  /** Log-distance exponent n. */
  exponent: number;
  /** Standard deviation of the per-pair shadowing process (dB). */
  pairSigmaDb: number;
  /** Correlation time of the pair shadowing (s). */
  pairTauS: number;
  /** Per-packet fading standard deviation (dB). */
  fadingSigmaDb: number;
  /** Loss through one wearer's body when the other device is straight behind them (dB). */
  bodyLossDb: number;
  /** Loss per wall between different rooms (dB). */
  wallLossDb: number;
  /** Weakest packet a receiver decodes (dBm). nRF52: -96 dBm at 1 Mbps. */
  sensitivityDbm: number;
  /** Packets lost for reasons other than collisions and signal (interference from Wi-Fi, ...). */
  baseLoss: number;
}

const CALIBRATED = {
  pathLossAt1mDb: 56,
  pairSigmaDb: 4.4,
  pairTauS: 300,
  fadingSigmaDb: 5,
  bodyLossDb: 8,
  sensitivityDbm: -96,
  baseLoss: 0.03,
};

export const ENVIRONMENTS: Record<string, RadioEnvironment> = {
  "dublin-tram": { name: "dublin-tram", ...CALIBRATED, exponent: 0.4, wallLossDb: 0 },
  indoor: { name: "indoor", ...CALIBRATED, exponent: 2.0, wallLossDb: 12 },
  "open-air": { name: "open-air", ...CALIBRATED, exponent: 2.2, wallLossDb: 0 },
  "epfl-indoor": {
    name: "epfl-indoor",
    ...CALIBRATED,
    pathLossAt1mDb: 55,
    exponent: 1.3,
    pairSigmaDb: 4.5,
    fadingSigmaDb: 4,
    bodyLossDb: 8,
    wallLossDb: 12,
  },
  "epfl-indoor-light-body": {
    name: "epfl-indoor-light-body",
    ...CALIBRATED,
    pathLossAt1mDb: 59,
    exponent: 1.3,
    pairSigmaDb: 5.5,
    fadingSigmaDb: 4,
    bodyLossDb: 4,
    wallLossDb: 12,
  },
};

/** Presets fitted to measurements (the others are assumed): what the bench and the docs report recall under. */
export const CALIBRATED_ENVIRONMENTS = ["epfl-indoor", "epfl-indoor-light-body", "dublin-tram"];

export function environment(name: string | RadioEnvironment | undefined): RadioEnvironment {
  if (name === undefined) return ENVIRONMENTS.indoor;
  if (typeof name !== "string") return name;
  const e = ENVIRONMENTS[name];
  if (!e) throw new Error(`unknown radio environment "${name}" (known: ${Object.keys(ENVIRONMENTS).join(", ")})`);
  return e;
}

export interface Position {
  x: number;
  y: number;
  /** Room label: walls separate different rooms. */
  room?: string;
  /** Direction the wearer faces, radians. */
  heading?: number;
}

/** Something that sends or receives radio packets. */
export interface RadioNode {
  /** Index unique in the world (shadowing state key). */
  readonly radioIndex: number;
  positionAt(t: number): Position;
  /** Reported (calibrated) transmit power, dBm. */
  eirpDbm(): number;
  /** Receiver gain correction, dB (phones: their RSSI correction). */
  readonly rxGainDb: number;
  /** False for things not worn on a body (a kiosk on a desk). */
  readonly worn: boolean;
}

export class RadioMedium {
  private shadow = new Map<number, { x: number; t: number }>();

  constructor(
    readonly env: RadioEnvironment,
    private rng: Rng,
  ) {}

  distance(a: Position, b: Position): number {
    return Math.hypot(a.x - b.x, a.y - b.y);
  }

  /** Deterministic part of the loss: distance, walls and bodies (dB). */
  meanLoss(tx: RadioNode, rx: RadioNode, pt: Position, pr: Position): number {
    const e = this.env;
    const d = Math.max(0.1, this.distance(pt, pr));
    let loss = e.pathLossAt1mDb + 10 * e.exponent * Math.log10(d);
    if (pt.room !== undefined && pr.room !== undefined && pt.room !== pr.room) loss += e.wallLossDb;
    if (tx.worn) loss += this.body(pt, pr);
    if (rx.worn) loss += this.body(pr, pt);
    return loss;
  }

  /** Loss through the body of the wearer at `self` towards `other`: 0 facing it, bodyLossDb with it behind. */
  body(self: Position, other: Position): number {
    if (self.heading === undefined) return this.env.bodyLossDb / 2;
    const dir = Math.atan2(other.y - self.y, other.x - self.x);
    return (this.env.bodyLossDb * (1 - Math.cos(dir - self.heading))) / 2;
  }

  /** Pair shadowing at time t: an Ornstein-Uhlenbeck process per unordered pair. */
  shadowDb(a: RadioNode, b: RadioNode, t: number): number {
    const i = Math.min(a.radioIndex, b.radioIndex);
    const j = Math.max(a.radioIndex, b.radioIndex);
    const k = i * 1048576 + j;
    const e = this.env;
    let s = this.shadow.get(k);
    if (!s) {
      s = { x: this.rng.gauss() * e.pairSigmaDb, t };
      this.shadow.set(k, s);
      return s.x;
    }
    const dt = t - s.t;
    if (dt > 0) {
      const r = Math.exp(-dt / e.pairTauS);
      s.x = s.x * r + e.pairSigmaDb * Math.sqrt(1 - r * r) * this.rng.gauss();
      s.t = t;
    }
    return s.x;
  }

  /** RSSI of one packet (dBm, float), or undefined when it is below the receiver's sensitivity. */
  packetRssi(tx: RadioNode, rx: RadioNode, t: number): number | undefined {
    const pt = tx.positionAt(t);
    const pr = rx.positionAt(t);
    const rssi =
      tx.eirpDbm() +
      rx.rxGainDb -
      this.meanLoss(tx, rx, pt, pr) -
      this.shadowDb(tx, rx, t) -
      this.rng.gauss() * this.env.fadingSigmaDb;
    return rssi < this.env.sensitivityDbm ? undefined : rssi;
  }

  /** Mean RSSI ignoring shadowing and fading: used to decide who is in range at all. */
  meanRssi(tx: RadioNode, rx: RadioNode, t: number): number {
    const pt = tx.positionAt(t);
    const pr = rx.positionAt(t);
    return tx.eirpDbm() + rx.rxGainDb - this.meanLoss(tx, rx, pt, pr);
  }

  /** Margin below sensitivity beyond which a link is treated as out of range (no packet can make it). */
  get rangeMarginDb(): number {
    const e = this.env;
    return 4 * Math.hypot(e.pairSigmaDb, e.fadingSigmaDb);
  }
}

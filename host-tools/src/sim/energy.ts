import { BoardProfile } from "../boards/profile";
import { NRF52_CALIBRATION } from "./cpu-cost";

/**
 * Charge accounting from the board's currents (boards/<id>.json `currentUa`): idle all the time the device is
 * powered; each advertising event costs the board's advertising current times its reference interval (so the
 * average scales with 1/interval); scanning costs the scanning current for the share of time the receiver is on
 * (window / interval); a connection its current while up; JavaScript its CPU current while busy. Battery days =
 * capacity / average current.
 */
export type EnergyCategory = "idle" | "advertising" | "connectableAdvertising" | "scanning" | "connected" | "cpu";

export const ENERGY_CATEGORIES: EnergyCategory[] = [
  "idle",
  "advertising",
  "connectableAdvertising",
  "scanning",
  "connected",
  "cpu",
];

export interface EnergyReport {
  /** Seconds the device was powered. */
  poweredSeconds: number;
  /** Charge per category, microcoulombs (uA * s). */
  chargeUc: Record<EnergyCategory, number>;
  /** Average current per category over the powered time, uA. */
  averageUa: Record<EnergyCategory, number>;
  averageUaTotal: number;
  batteryCapacityMah: number;
  /** Days a full battery lasts at this average current. */
  batteryDays: number;
  /** Share of the battery used so far (0-1). */
  batteryUsed: number;
  /** Average current and battery days as a range: each bound with what it assumes (see `ENERGY_RANGE`). */
  range: EnergyRange;
}

export const RANGE_BOUNDS = ["low", "expected", "high"] as const;
export type RangeBound = (typeof RANGE_BOUNDS)[number];
/** Average current and battery days per bound of the range, each with what it assumes. */
export type EnergyRange = Record<RangeBound, { averageUa: number; batteryDays: number; assumes: string }>;

/**
 * Published figures behind the low / expected / high range (the bounds of the current; battery days run the other
 * way: the "low" current meets the best cell).
 * - JavaScript time: measured in the real interpreter, converted with NRF52_CALIBRATION (x0.5 .. x2).
 * - Scanning: the receiver's current (board `currentUa.scanning`: nRF52832 product specification, IRADIO_RX0 6.5 mA
 *   at 1 Mbps, DC/DC, 3 V) x the window's duty; the JavaScript per report is charged as CPU. High: the ~12 mA
 *   Espruino documents for a Puck.js scanning with JavaScript running (shared/ESPRUINO.md), as if the radio drew it
 *   on its own (no DC/DC, or a worse front end).
 * - Coin cells (chemistry CR2032) under 6-12 mA pulses: TI SWRA349 "Coin cells and peak current draw" measured six
 *   vendors' CR2032s at 15 and 30 mA pulses between over 100 % and about 50 % of rated capacity (pulses above
 *   Tracelet's, so these bounds lean pessimistic); Maxell's CR2032 datasheet, as thecavepearlproject.org (2023)
 *   reads it, shows about 25 % less under a 300 ohm (~10 mA) pulse every 5 s. Expected 75 %, best 100 %, worst 50 %.
 *   Other chemistries are not derated (no published figure for these cells at these pulses).
 */
export const ENERGY_RANGE = {
  jsFactor: { low: NRF52_CALIBRATION.low, expected: 1, high: NRF52_CALIBRATION.high },
  /** Scanning receiver current when the board's figure is the datasheet's, per bound (uA); high = Espruino's 12 mA. */
  scanningHighUa: 12000,
  /** Share of rated capacity per bound of the current (the low current meets the best cell, the high the worst). */
  coinCellCapacity: { low: 1, expected: 0.75, high: 0.5 },
};

function derate(board: BoardProfile, bound: RangeBound): number {
  return board.battery.chemistry === "CR2032" ? ENERGY_RANGE.coinCellCapacity[bound] : 1;
}

export class EnergyMeter {
  readonly charge: Record<EnergyCategory, number> = {
    idle: 0,
    advertising: 0,
    connectableAdvertising: 0,
    scanning: 0,
    connected: 0,
    cpu: 0,
  };
  poweredSeconds = 0;
  /** The part of `charge.cpu` that is JavaScript time (converted with the calibration ratio), uC. */
  jsUc = 0;

  constructor(readonly board: BoardProfile) {}

  /** Charge of one advertising event, uC. */
  advertEventUc(connectable: boolean): number {
    const c = this.board.currentUa;
    const ref = c.advertisingReferenceIntervalMs / 1000;
    return (connectable ? c.connectableAdvertising : c.advertising) * ref;
  }

  add(cat: EnergyCategory, uc: number): void {
    this.charge[cat] += uc;
  }

  /** JavaScript time, seconds on an nRF52 (expected ratio). */
  addJs(seconds: number): void {
    const uc = this.board.currentUa.cpu * seconds;
    this.charge.cpu += uc;
    this.jsUc += uc;
  }

  total(): number {
    let t = 0;
    for (const k of ENERGY_CATEGORIES) t += this.charge[k];
    return t;
  }

  report(): EnergyReport {
    const s = Math.max(1e-9, this.poweredSeconds);
    const averageUa = {} as Record<EnergyCategory, number>;
    for (const k of ENERGY_CATEGORIES) averageUa[k] = this.charge[k] / s;
    const avg = this.total() / s;
    const capUc = this.board.battery.capacityMah * 3600 * 1000;
    const range = {} as EnergyRange;
    const scanHigh = Math.max(1, ENERGY_RANGE.scanningHighUa / Math.max(1, this.board.currentUa.scanning));
    for (const bound of RANGE_BOUNDS) {
      let uc = this.total() + this.jsUc * (ENERGY_RANGE.jsFactor[bound] - 1);
      if (bound === "high") uc += this.charge.scanning * (scanHigh - 1);
      const ua = uc / s;
      const cell = derate(this.board, bound);
      range[bound] = {
        averageUa: ua,
        batteryDays: ua > 0 ? (this.board.battery.capacityMah * cell * 1000) / ua / 24 : Infinity,
        assumes: assumption(this.board, bound),
      };
    }
    return {
      poweredSeconds: this.poweredSeconds,
      chargeUc: { ...this.charge },
      averageUa,
      averageUaTotal: avg,
      batteryCapacityMah: this.board.battery.capacityMah,
      batteryDays: avg > 0 ? (this.board.battery.capacityMah * 1000) / avg / 24 : Infinity,
      batteryUsed: this.total() / capUc,
      range,
    };
  }
}

function assumption(board: BoardProfile, bound: RangeBound): string {
  const js = {
    low: "JavaScript 2x faster than the calibration",
    expected: "JavaScript at the calibration ratio",
    high: "JavaScript 2x slower than the calibration",
  }[bound];
  const rx =
    bound === "high"
      ? `receiver at ${ENERGY_RANGE.scanningHighUa / 1000} mA (Espruino's scanning figure)`
      : `receiver at ${board.currentUa.scanning / 1000} mA (datasheet RX)`;
  const cell =
    board.battery.chemistry === "CR2032"
      ? `${Math.round(ENERGY_RANGE.coinCellCapacity[bound] * 100)} % of ${board.battery.capacityMah} mAh (CR2032 under 6-12 mA pulses)`
      : `${board.battery.capacityMah} mAh, not derated`;
  return `${js}; ${rx}; ${cell}`;
}

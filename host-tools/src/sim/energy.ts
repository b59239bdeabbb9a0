import { BoardProfile } from "../boards/profile";

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
    return {
      poweredSeconds: this.poweredSeconds,
      chargeUc: { ...this.charge },
      averageUa,
      averageUaTotal: avg,
      batteryCapacityMah: this.board.battery.capacityMah,
      batteryDays: avg > 0 ? (this.board.battery.capacityMah * 1000) / avg / 24 : Infinity,
      batteryUsed: this.total() / capUc,
    };
  }
}

import { Person, Scenario } from "./scenario";

/**
 * Ground truth from the scenario's movements alone (no radio): for every pair of people and every UTC day, how
 * long they were within 2 m (and within 4 m), sampled every `stepS` seconds. A close contact is >= 15 minutes
 * cumulative within 2 m in a day (shared/PROTOCOLS.md); shorter exposures (5-15 min) are reported too.
 */
export const CLOSE_METRES = 2;
export const CLOSE_MINUTES = 15;

export interface PairDay {
  a: string;
  b: string;
  day: number;
  /** Minutes within 2 m. */
  minutes2m: number;
  /** Minutes within 4 m. */
  minutes4m: number;
}

export interface GroundTruth {
  stepS: number;
  pairs: PairDay[];
  /** Index "a|b|day" (a < b) -> entry. */
  index: Map<string, PairDay>;
}

export function pairKey(a: string, b: string, day: number): string {
  return a < b ? `${a}|${b}|${day}` : `${b}|${a}|${day}`;
}

export function groundTruth(s: Scenario, startUnix: number, stepS = 30): GroundTruth {
  const people = s.people;
  const n = people.length;
  const index = new Map<string, PairDay>();
  const end = s.hours * 3600;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  const min = stepS / 60;
  for (let t = stepS / 2; t < end; t += stepS) {
    const day = Math.floor((startUnix + t) / 86400);
    for (let i = 0; i < n; i++) {
      const p = people[i].track.at(t);
      xs[i] = p.x;
      ys[i] = p.y;
    }
    for (let i = 0; i < n; i++) {
      const xi = xs[i];
      const yi = ys[i];
      for (let j = i + 1; j < n; j++) {
        const dx = xs[j] - xi;
        if (dx > 4 || dx < -4) continue;
        const dy = ys[j] - yi;
        if (dy > 4 || dy < -4) continue;
        const d2 = dx * dx + dy * dy;
        if (d2 > 16) continue;
        const k = pairKey(people[i].id, people[j].id, day);
        let e = index.get(k);
        if (!e) {
          const [a, b] = people[i].id < people[j].id ? [people[i].id, people[j].id] : [people[j].id, people[i].id];
          e = { a, b, day, minutes2m: 0, minutes4m: 0 };
          index.set(k, e);
        }
        e.minutes4m += min;
        if (d2 <= CLOSE_METRES * CLOSE_METRES) e.minutes2m += min;
      }
    }
  }
  return { stepS, pairs: [...index.values()], index };
}

/** Distance between two people over time, for plots. */
export function distanceSeries(a: Person, b: Person, hours: number, stepS = 60): { t: number; d: number }[] {
  const out: { t: number; d: number }[] = [];
  for (let t = 0; t < hours * 3600; t += stepS) {
    const p = a.track.at(t);
    const q = b.track.at(t);
    out.push({ t, d: Math.hypot(p.x - q.x, p.y - q.y) });
  }
  return out;
}

import { CLAMP_DRIFT_PPM, MAX_DRIFT_PPM, MIN_DRIFT_SPAN_S } from "../tuning";
/**
 * The band's idea of Unix time. The band never calls setTime(): it keeps the Unix time `base` of the last
 * authenticated set, the uptime `at` when it happened, and a drift estimate, and derives Unix time from uptime.
 * The clock is valid only within the power-on epoch in which it was set (a power loss resets uptime).
 */

/** Unix seconds at `uptime` for a clock set to `base` at uptime `at`, its counter running `driftPpm` fast. */
export function unixAt(base: number, at: number, driftPpm: number, uptime: number): number {
  return base + (uptime - at) * (1 - driftPpm / 1e6);
}

/**
 * The drift estimate after an authenticated set to `unix` when the band believed `estimate`, the previous set
 * having been at `base`. A large error is a clock jump, not drift: the estimate stays.
 */
export function driftAfterSet(estimate: number, unix: number, base: number, driftPpm: number): number {
  const span = unix - base;
  const err = estimate - unix;
  if (span < MIN_DRIFT_SPAN_S || Math.abs(err) >= span * MAX_DRIFT_PPM * 1e-6) return driftPpm;
  const d = driftPpm + (err / span) * 1e6;
  // Halves up in Espruino as in V8 (Math.round differs for negative halves).
  return Math.floor((d > CLAMP_DRIFT_PPM ? CLAMP_DRIFT_PPM : d < -CLAMP_DRIFT_PPM ? -CLAMP_DRIFT_PPM : d) + 0.5);
}

/**
 * The band's idea of Unix time. The band never calls setTime(): it keeps the Unix time `base` of the last
 * authenticated set, the uptime `at` when it happened, and a drift estimate, and derives Unix time from uptime.
 * The clock is valid only within the power-on epoch in which it was set (a power loss resets uptime).
 */

/** Drift corrections are accepted only over at least this long and below this rate; larger errors are jumps. */
const MIN_DRIFT_SPAN_S = 3600;
const MAX_DRIFT_PPM = 2000;
const CLAMP_DRIFT_PPM = 1000;

export class BandClock {
  valid = false;
  base = 0;
  at = 0;
  /** Parts per million the band's counter runs fast (positive) or slow. */
  drift = 0;

  /** Unix seconds at `uptime`, or -1 when the clock is not valid. */
  unix(uptime: number): number {
    return this.valid ? this.base + (uptime - this.at) * (1 - this.drift / 1e6) : -1;
  }

  /**
   * An authenticated set. Returns the band's error before the set (band - true, seconds) or null if it had no
   * valid time; updates the drift estimate when the error is plausible drift rather than a jump.
   */
  set(unix: number, uptime: number): number | null {
    let err: number | null = null;
    if (this.valid) {
      err = this.unix(uptime) - unix;
      const span = unix - this.base;
      if (span >= MIN_DRIFT_SPAN_S && Math.abs(err) < span * MAX_DRIFT_PPM * 1e-6) {
        let d = this.drift + (err / span) * 1e6;
        if (d > CLAMP_DRIFT_PPM) d = CLAMP_DRIFT_PPM;
        if (d < -CLAMP_DRIFT_PPM) d = -CLAMP_DRIFT_PPM;
        this.drift = Math.round(d);
      }
    }
    this.valid = true;
    this.base = unix;
    this.at = uptime;
    return err;
  }
}

/**
 * Token-bucket rate limits per client address and route class (in memory, per process). Each bucket holds
 * up to `perMinute` tokens and refills continuously. The table is bounded: when it grows past `maxKeys`, full
 * buckets (idle clients) are dropped first.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly now: () => number,
    private readonly maxKeys = 100000,
  ) {}

  /** Takes one token; returns 0 when allowed, else the seconds until a token is available. */
  take(key: string, perMinute: number): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.sweep(perMinute);
      b = { tokens: perMinute, at: t };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(perMinute, b.tokens + ((t - b.at) / 60000) * perMinute);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - b.tokens) / perMinute) * 60));
  }

  private sweep(perMinute: number): void {
    const t = this.now();
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 60000) * perMinute >= perMinute) this.buckets.delete(k);
    }
    if (this.buckets.size >= this.maxKeys) this.buckets.clear();
  }
}

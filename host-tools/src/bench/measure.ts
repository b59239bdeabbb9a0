/** Operations per second of `fn`, timed over at least `minMs` after a short warm-up (results are not assertions). */
export function opsPerSecond(fn: () => unknown, minMs: number): number {
  const warmUntil = Date.now() + Math.min(50, minMs / 4);
  while (Date.now() < warmUntil) fn();
  let ops = 0;
  let batch = 1;
  const start = process.hrtime.bigint();
  let elapsedNs = 0n;
  const minNs = BigInt(Math.round(minMs * 1e6));
  while (elapsedNs < minNs) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    batch = Math.min(batch * 2, 1 << 16);
    elapsedNs = process.hrtime.bigint() - start;
  }
  return ops / (Number(elapsedNs) / 1e9);
}

/** Rounds to `digits` significant digits, for readable JSON. */
export function sig(x: number, digits = 4): number {
  return x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(digits));
}

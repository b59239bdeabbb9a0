import * as fs from "fs";

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

/**
 * CPU seconds (user + system) each process has used, by pid, from Linux's /proc (`utime` and `stime` of
 * /proc/<pid>/stat, in clock ticks of 1/100 s, USER_HZ on Linux), for the processes `pick` chooses by their
 * command line; an empty map where /proc is absent. A multi-process bench uses two of these to say which
 * process used the machine's cores.
 */
export function processCpu(pick: (cmdline: string, pid: number) => boolean): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const p of pids) {
    try {
      const cmdline = fs.readFileSync(`/proc/${p}/cmdline`, "latin1").split("\0").join(" ").trim();
      if (!pick(cmdline, Number(p))) continue;
      // Fields after the command name (which may hold spaces and parentheses): state is the 3rd field.
      const stat = fs.readFileSync(`/proc/${p}/stat`, "latin1");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(p), (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return out;
}

/** CPU seconds used between two processCpu samples by the processes alive at the second (new ones in full). */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let s = 0;
  for (const [pid, t] of after) s += t - (before.get(pid) ?? 0);
  return s;
}

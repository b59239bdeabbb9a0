import { createHash } from "crypto";
import { BlockList, isIP } from "net";

/**
 * The rate limits and guess lockouts a request goes through. The classes below keep them in memory, per
 * process; a store shared by many API nodes (PostgreSQL) keeps them in the database so they hold across nodes
 * (AuthorityStore.sharedGuards).
 */
export interface RateLimitTable {
  /** Takes one token; resolves with 0 when allowed, else the seconds until a token is available. */
  take(key: string, perMinute: number): number | Promise<number>;
}

export interface LockoutTable {
  /** Seconds until every one of these keys may try again (0 = none is locked out). */
  wait(keys: readonly string[]): number | Promise<number>;
  /** Counts one failure against each key; the keys this failure locked out. */
  fail(keys: readonly string[]): string[] | Promise<string[]>;
}

export interface LockoutSettings {
  maxFailures: number;
  windowS: number;
  lockS: number;
}

/** What a store keeping the limits in its database needs: the lockout rule and the most buckets kept. */
export interface GuardSettings extends LockoutSettings {
  maxBuckets: number;
}

/** How many slots a new bucket may take: its own hashed candidates, of which the stalest is evicted. */
export const BUCKET_CANDIDATES = 8;

/**
 * The slots (0 .. slots - 1) a bucket key may occupy in a table bounded to `slots` buckets: up to
 * BUCKET_CANDIDATES distinct ones from the key's SHA-256. The same on every node, so all nodes look for a
 * key's bucket in the same places.
 */
export function bucketSlots(key: string, slots: number): number[] {
  const h = createHash("sha256").update(key, "utf8").digest();
  const out: number[] = [];
  for (let i = 0; i < BUCKET_CANDIDATES; i++) {
    const s = h.readUInt32BE(i * 4) % slots;
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

/**
 * Token-bucket rate limits per client address and route class (in memory, per process). Each bucket holds
 * up to `perMinute` tokens and refills continuously. The table is bounded: when it is full, buckets that
 * have refilled (idle clients) are dropped first, then the least recently used ones, a tenth of the table at
 * a time. A flood of new addresses therefore cannot empty the buckets of the clients being limited.
 */
export class RateLimiter implements RateLimitTable {
  private readonly buckets = new Map<string, { tokens: number; at: number; perMinute: number }>();

  constructor(
    private readonly now: () => number,
    private readonly maxKeys = 100000,
  ) {}

  /** Takes one token; returns 0 when allowed, else the seconds until a token is available. */
  take(key: string, perMinute: number): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b) {
      // Most recently used last (Map keeps insertion order), so eviction starts with the stalest.
      this.buckets.delete(key);
    } else {
      if (this.buckets.size >= this.maxKeys) this.sweep(t);
      b = { tokens: perMinute, at: t, perMinute };
    }
    this.buckets.set(key, b);
    b.tokens = Math.min(perMinute, b.tokens + ((t - b.at) / 60000) * perMinute);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - b.tokens) / perMinute) * 60));
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(t: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 60000) * b.perMinute >= b.perMinute) this.buckets.delete(k);
    }
    const target = Math.floor(this.maxKeys * 0.9);
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(k);
    }
  }
}

/**
 * Lockout after repeated failed guesses (verification codes, tokens): `maxFailures` failures of one key
 * (a client address, an API key) within `windowS` lock that key out for `lockS` seconds. Bounded like the
 * rate limiter (least recently failed entries go first; locked entries are kept while others can go).
 */
export class Lockout implements LockoutTable {
  private readonly entries = new Map<string, { since: number; failures: number; until: number }>();

  constructor(
    private readonly now: () => number,
    private readonly maxFailures: number,
    private readonly windowS: number,
    private readonly lockS: number,
    private readonly maxKeys = 100000,
  ) {}

  /** Seconds until every one of these keys may try again (0 = none is locked out). */
  wait(keys: readonly string[]): number {
    const t = this.now() / 1000;
    let wait = 0;
    for (const k of keys) {
      const e = this.entries.get(k);
      if (e && e.until > t) wait = Math.max(wait, Math.ceil(e.until - t));
    }
    return wait;
  }

  /** Counts one failure against each key; returns the keys this failure locked out. */
  fail(keys: readonly string[]): string[] {
    const t = this.now() / 1000;
    const locked: string[] = [];
    for (const k of keys) {
      let e = this.entries.get(k);
      if (e) this.entries.delete(k);
      if (!e || t - e.since > this.windowS) e = { since: t, failures: 0, until: e?.until ?? 0 };
      e.failures++;
      if (e.failures >= this.maxFailures && e.until <= t) {
        e.until = t + this.lockS;
        e.since = t;
        e.failures = 0;
        locked.push(k);
      }
      if (this.entries.size >= this.maxKeys) this.evict(t);
      this.entries.set(k, e);
    }
    return locked;
  }

  private evict(t: number): void {
    const target = Math.floor(this.maxKeys * 0.9);
    for (const [k, e] of this.entries) {
      if (this.entries.size <= target) return;
      if (e.until <= t) this.entries.delete(k);
    }
    for (const k of this.entries.keys()) {
      if (this.entries.size <= target) return;
      this.entries.delete(k);
    }
  }
}

/** Loopback: the proxy assumed by `trustProxy: true` without a `trustedProxies` list. */
export const LOOPBACK_PROXIES = ["127.0.0.0/8", "::1"];

/** A matcher for a list of trusted proxies: addresses or CIDR ranges, IPv4 or IPv6. */
export function proxyMatcher(list: readonly string[]): (addr: string) => boolean {
  if (list.length === 0) return () => false;
  const bl = new BlockList();
  for (const entry of list) {
    const [addr, bits] = entry.split("/");
    const family = isIP(addr) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) bl.addAddress(addr, family);
    else bl.addSubnet(addr, Number(bits), family);
  }
  return (addr: string) => {
    const a = unmapIpv4(addr);
    const v = isIP(a);
    return v !== 0 && bl.check(a, v === 6 ? "ipv6" : "ipv4");
  };
}

/** True when `entry` is an address or CIDR range proxyMatcher accepts. */
export function validProxyEntry(entry: string): boolean {
  const [addr, bits, extra] = entry.split("/");
  const v = isIP(addr);
  if (v === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (v === 6 ? 128 : 32);
}

/**
 * The client address for rate limits and the audit log. The socket's peer, unless that peer is a trusted
 * proxy: then X-Forwarded-For is read from the right (each proxy appends the address it received from) and
 * the first address that is not a trusted proxy is the client. Entries left of it were written by the client
 * itself and are never believed.
 */
export function clientIp(
  remote: string | undefined,
  xff: string | string[] | undefined,
  trusted: (addr: string) => boolean,
): string {
  const peer = unmapIpv4(remote ?? "unknown");
  if (!trusted(peer) || xff === undefined) return peer;
  const hops = (Array.isArray(xff) ? xff.join(",") : xff)
    .split(",")
    .map((s) => unmapIpv4(s.trim()))
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trusted(hops[i])) return isIP(hops[i]) ? hops[i] : "invalid";
  }
  return hops[0] ?? peer;
}

function unmapIpv4(a: string): string {
  return a.startsWith("::ffff:") && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

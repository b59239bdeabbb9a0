/**
 * The world's event queue: a binary min-heap ordered by (time, insertion order), so events at the same instant run
 * in the order they were scheduled and a run is reproducible. Cancelled events stay in the heap and are skipped.
 */
export interface SimEvent {
  t: number;
  seq: number;
  run: () => void;
  cancelled: boolean;
}

export class Scheduler {
  private heap: SimEvent[] = [];
  private seq = 0;
  /** World time in seconds. */
  now = 0;

  at(t: number, run: () => void): SimEvent {
    const ev: SimEvent = { t: t < this.now ? this.now : t, seq: this.seq++, run, cancelled: false };
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(ev, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = ev;
    return ev;
  }

  after(seconds: number, run: () => void): SimEvent {
    return this.at(this.now + seconds, run);
  }

  /** Time of the next live event, or Infinity. */
  peekTime(): number {
    const h = this.heap;
    while (h.length && h[0].cancelled) this.pop();
    return h.length ? h[0].t : Infinity;
  }

  /** Runs the next event if it is due at or before `limit`; false when there is none. */
  step(limit: number): boolean {
    const t = this.peekTime();
    if (t > limit) return false;
    const ev = this.pop() as SimEvent;
    this.now = ev.t;
    ev.run();
    return true;
  }

  get size(): number {
    return this.heap.length;
  }

  private pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let mv = last;
        if (l < n && before(h[l], mv)) {
          m = l;
          mv = h[l];
        }
        if (r < n && before(h[r], mv)) {
          m = r;
          mv = h[r];
        }
        if (m === i) break;
        h[i] = h[m];
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

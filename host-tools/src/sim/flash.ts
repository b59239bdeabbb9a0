/**
 * NOR flash as on the nRF52 (nRF52832 product specification, NVMC chapter): erased bytes read 0xFF, a write can
 * only clear bits (the new value is old AND data), erasing works on whole pages only. Pages are allocated lazily so
 * an 8 MB Bangle.js 2 costs nothing until it is written.
 *
 * Power cuts: `armCut(n)` makes the flash lose power after n more bytes have been programmed or erased (an erase
 * counts as a page worth of bytes and a cut inside it leaves the first part of the page erased). The operation in
 * progress is applied up to that byte and then `PowerCut` is thrown; every later operation is ignored until the
 * device reboots (`revive()`), exactly as a dead chip would ignore them.
 */
export class PowerCut extends Error {
  constructor() {
    super("power cut");
    this.name = "PowerCut";
  }
}

export interface FlashStats {
  bytesProgrammed: number;
  programOps: number;
  pageErases: number;
  /** Words written more than twice between erases (the nRF52832 allows two writes per word: nWRITE). */
  overWrittenWords: number;
}

export class NorFlash {
  readonly base: number;
  readonly size: number;
  readonly pageSize: number;
  private pages: (Uint8Array | null)[];
  private wordWrites: (Uint8Array | null)[];
  /** Erase count per page: wear, and a check that retention code erases what it should. */
  readonly eraseCounts: Uint32Array;
  readonly stats: FlashStats = { bytesProgrammed: 0, programOps: 0, pageErases: 0, overWrittenWords: 0 };
  /** Bytes programmed or erased so far (the clock power cuts are armed against). */
  touched = 0;
  private cutAt = Infinity;
  /** True after a cut until `revive()`: the chip has no power. */
  dead = false;
  /** Called once when an armed cut fires (before PowerCut is thrown). */
  onCut: (() => void) | undefined;

  constructor(base: number, size: number, pageSize: number) {
    if (size % pageSize !== 0) throw new Error(`flash size ${size} is not a whole number of ${pageSize}-byte pages`);
    this.base = base;
    this.size = size;
    this.pageSize = pageSize;
    const n = size / pageSize;
    this.pages = new Array(n).fill(null);
    this.wordWrites = new Array(n).fill(null);
    this.eraseCounts = new Uint32Array(n);
  }

  get end(): number {
    return this.base + this.size;
  }

  /** Cut power after `bytes` more bytes are touched (0: at the very next byte). */
  armCut(bytes: number): void {
    this.cutAt = this.touched + Math.max(0, Math.floor(bytes));
  }

  disarmCut(): void {
    this.cutAt = Infinity;
  }

  get armed(): boolean {
    return this.cutAt !== Infinity;
  }

  /** Power is back (the device rebooted): operations work again. */
  revive(): void {
    this.dead = false;
  }

  pageIndex(addr: number): number {
    return Math.floor((addr - this.base) / this.pageSize);
  }

  pageStart(addr: number): number {
    return this.base + this.pageIndex(addr) * this.pageSize;
  }

  inRange(addr: number, len = 1): boolean {
    return addr >= this.base && addr + len <= this.end;
  }

  readByte(addr: number): number {
    const p = this.pages[this.pageIndex(addr)];
    return p ? p[(addr - this.base) % this.pageSize] : 0xff;
  }

  read(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.readInto(addr, out);
    return out;
  }

  readInto(addr: number, out: Uint8Array): void {
    let i = 0;
    while (i < out.length) {
      const a = addr + i;
      if (!this.inRange(a)) {
        out.fill(0xff, i);
        return;
      }
      const pi = this.pageIndex(a);
      const off = (a - this.base) % this.pageSize;
      const n = Math.min(out.length - i, this.pageSize - off);
      const p = this.pages[pi];
      if (p) out.set(p.subarray(off, off + n), i);
      else out.fill(0xff, i, i + n);
      i += n;
    }
  }

  readU32(addr: number): number {
    return (
      (this.readByte(addr) |
        (this.readByte(addr + 1) << 8) |
        (this.readByte(addr + 2) << 16) |
        (this.readByte(addr + 3) << 24)) >>>
      0
    );
  }

  isErased(addr: number, len: number): boolean {
    for (let i = 0; i < len;) {
      const a = addr + i;
      const pi = this.pageIndex(a);
      const off = (a - this.base) % this.pageSize;
      const n = Math.min(len - i, this.pageSize - off);
      const p = this.pages[pi];
      if (p) for (let j = 0; j < n; j++) if (p[off + j] !== 0xff) return false;
      i += n;
    }
    return true;
  }

  /** Programs bytes: each becomes old AND new (bits only clear). Unaligned edges behave as if padded with 0xFF. */
  program(addr: number, data: Uint8Array): void {
    if (this.dead) throw new PowerCut();
    if (!this.inRange(addr, data.length)) throw new Error(`flash write outside 0x${addr.toString(16)}+${data.length}`);
    this.stats.programOps++;
    let n = data.length;
    let cut = false;
    if (this.touched + n > this.cutAt) {
      n = Math.max(0, this.cutAt - this.touched);
      cut = true;
    }
    for (let i = 0; i < n; i++) {
      const a = addr + i;
      const pi = this.pageIndex(a);
      const off = (a - this.base) % this.pageSize;
      let p = this.pages[pi];
      if (!p) {
        if (data[i] === 0xff) continue;
        p = this.pages[pi] = new Uint8Array(this.pageSize).fill(0xff);
      }
      p[off] &= data[i];
      if ((off & 3) === 0 || i === 0) this.countWordWrite(pi, off >> 2);
    }
    this.touched += n;
    this.stats.bytesProgrammed += n;
    if (cut) this.cut();
  }

  erasePage(addr: number): void {
    if (this.dead) throw new PowerCut();
    const pi = this.pageIndex(addr);
    if (pi < 0 || pi >= this.pages.length) throw new Error(`flash erase outside 0x${addr.toString(16)}`);
    let n = this.pageSize;
    let cut = false;
    if (this.touched + n > this.cutAt) {
      n = Math.max(0, this.cutAt - this.touched);
      cut = true;
    }
    const p = this.pages[pi];
    if (n === this.pageSize) {
      this.pages[pi] = null;
      this.wordWrites[pi] = null;
      this.eraseCounts[pi]++;
      this.stats.pageErases++;
    } else if (p) {
      p.fill(0xff, 0, n);
    }
    this.touched += n;
    if (cut) this.cut();
  }

  /** A copy of the whole flash (for snapshots and reports). */
  snapshot(): Uint8Array {
    return this.read(this.base, this.size);
  }

  /** Pages currently holding any programmed byte. */
  usedPages(): number {
    let n = 0;
    for (const p of this.pages) if (p) n++;
    return n;
  }

  private countWordWrite(pi: number, word: number): void {
    let w = this.wordWrites[pi];
    if (!w) w = this.wordWrites[pi] = new Uint8Array(this.pageSize >> 2);
    if (w[word] < 255) w[word]++;
    if (w[word] === 3) this.stats.overWrittenWords++;
  }

  private cut(): void {
    this.cutAt = Infinity;
    this.dead = true;
    if (this.onCut) this.onCut();
    throw new PowerCut();
  }
}

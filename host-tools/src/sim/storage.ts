import { NorFlash } from "./flash";

/**
 * Espruino's `require("Storage")` file system, ported from the interpreter's src/jsflash.c (espruino/Espruino,
 * 2v2x: jsfCreateFile, jsfFindFile, jsfWriteFile, jsfReadFile, jsfEraseFileInternal, jsfGetStorageStats,
 * jsfCompactInternal) onto the simulated NOR flash, so files sit at the same addresses, fail the same way and are torn
 * by a power cut the same way as on a band.
 *
 * Layout facts from jsflash.c/jsflash.h: each file is a 32-byte header (`size` u32 whose top 8 bits are flags, then
 * a 28-byte zero-padded name) followed by the data, padded to 4 bytes (JSF_ALIGNMENT). Files are allocated
 * contiguously and may straddle pages; a header whose size word is 0xFFFFFFFF (erased) or 0 ends a page's chain.
 * Erasing a file only zeroes the first 4 bytes of its name (the space becomes "trash" until compaction).
 * `write(name, data, 0, size)` on a missing (or differently sized, or already written) file creates a new one;
 * writing at an offset needs an existing file and an erased region, otherwise it throws.
 */
export const HEADER_SIZE = 32;
export const NAME_LEN = 28;
const ALIGN = 4;
const WORD_UNSET = 0xffffffff;

/** An error the interpreter would raise as a JavaScript exception (jsExceptionHere). */
export class StorageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StorageError";
  }
}

export interface StorageStats {
  totalBytes: number;
  freeBytes: number;
  fileBytes: number;
  fileCount: number;
  trashBytes: number;
  trashCount: number;
}

interface Hdr {
  addr: number;
  size: number;
  firstChars: number;
}

const GET_EMPTY = 0;
const GET_ALL = 1;

export class EspruinoStorage {
  readonly start: number;
  readonly end: number;

  constructor(
    readonly flash: NorFlash,
    /** Called after every flash operation with its kind and size, for the CPU time model. */
    readonly onOp?: (kind: "program" | "erase", bytes: number) => void,
  ) {
    this.start = flash.base;
    this.end = flash.end;
  }

  // ------------------------------------------------------------------------------------------ names

  /** jsfNameFromVar: the first 28 bytes of the name's string form, zero padded. */
  static nameBytes(name: string): Uint8Array {
    const out = new Uint8Array(NAME_LEN);
    for (let i = 0; i < name.length && i < NAME_LEN; i++) out[i] = name.charCodeAt(i) & 255;
    return out;
  }

  static nameString(bytes: Uint8Array): string {
    let s = "";
    for (let i = 0; i < bytes.length && bytes[i]; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }

  // ------------------------------------------------------------------------------------------ headers

  private align(a: number): number {
    return (a + (ALIGN - 1)) & ~(ALIGN - 1);
  }

  private fileSize(h: Hdr): number {
    return h.size & 0x00ffffff;
  }

  /** jsfGetFileHeader: reads size and the first name word; valid if not erased/zero and inside storage. */
  private header(addr: number): Hdr | null {
    if (!addr || addr < this.start || addr + HEADER_SIZE > this.end) return null;
    const size = this.flash.readU32(addr);
    const h: Hdr = { addr, size, firstChars: this.flash.readU32(addr + 4) };
    const endAddress = addr + HEADER_SIZE + this.fileSize(h);
    if (size === WORD_UNSET || size === 0 || endAddress > this.end) return null;
    return h;
  }

  /** jshFlashGetPage: [start, length] of the page holding addr, or null outside storage. */
  private page(addr: number): [number, number] | null {
    if (addr < this.start || addr >= this.end) return null;
    return [this.flash.pageStart(addr), this.flash.pageSize];
  }

  private nextPage(addr: number): number {
    const p = this.page(addr);
    if (!p) return 0;
    const a = p[0] + p[1];
    return a >= this.end ? 0 : a;
  }

  private spaceLeftInPage(addr: number): number {
    const p = this.page(addr);
    if (!p) return 0;
    let nextPageStart = p[0] + p[1];
    if (nextPageStart < this.end && !this.header(nextPageStart)) nextPageStart = this.end;
    return nextPageStart - addr;
  }

  /**
   * jsfGetNextFileHeader: from a valid header, the next one. Returns [address reached (0 if past the end), the
   * header there or null]. With GET_ALL an invalid header makes it look at the start of the next page.
   */
  private next(h: Hdr, type: number): [number, Hdr | null] {
    let newAddr = this.align(h.addr + this.fileSize(h) + HEADER_SIZE);
    if (newAddr < h.addr) return [0, null];
    if (newAddr + HEADER_SIZE > this.end) return [0, null];
    let n = this.header(newAddr);
    if (type & GET_ALL && !n) {
      newAddr = this.nextPage(newAddr);
      if (!newAddr) return [0, null];
      n = this.header(newAddr);
    }
    return [newAddr, n];
  }

  /** Every valid header in storage, in order (jsfGetNextFileHeader with GNFH_GET_ALL). */
  private *headers(): Generator<Hdr> {
    let h = this.header(this.start);
    while (h) {
      yield h;
      h = this.next(h, GET_ALL)[1];
    }
  }

  private fullName(h: Hdr): Uint8Array {
    return this.flash.read(h.addr + 4, NAME_LEN);
  }

  // ------------------------------------------------------------------------------------------ find / create

  /** jsfFindFile: data address of the live file with this name, or 0. */
  findFile(name: string): { addr: number; size: number; flags: number } | undefined {
    const nb = EspruinoStorage.nameBytes(name);
    const first = (nb[0] | (nb[1] << 8) | (nb[2] << 16) | (nb[3] << 24)) >>> 0;
    for (const h of this.headers()) {
      if (h.firstChars !== first) continue;
      const full = this.fullName(h);
      let same = true;
      for (let i = 0; i < NAME_LEN; i++) if (full[i] !== nb[i]) same = false;
      if (same) return { addr: h.addr + HEADER_SIZE, size: this.fileSize(h), flags: h.size >>> 24 };
    }
    return undefined;
  }

  private program(addr: number, data: Uint8Array): void {
    try {
      this.flash.program(addr, data);
    } finally {
      if (this.onOp) this.onOp("program", data.length);
    }
  }

  private erasePage(addr: number): void {
    try {
      this.flash.erasePage(addr);
    } finally {
      if (this.onOp) this.onOp("erase", this.flash.pageSize);
    }
  }

  private eraseFileInternal(dataAddr: number): void {
    this.program(dataAddr - HEADER_SIZE + 4, new Uint8Array(4));
  }

  /** jsfCreateFile: finds a hole (compacting once if needed) and writes the header; data address or 0. */
  private createFile(name: string, size: number, flags: number): number {
    const required = this.align(size) + HEADER_SIZE;
    let compacted = false;
    let freeAddr = 0;
    while (!freeAddr) {
      let addr = this.start;
      do {
        let h = this.header(addr);
        while (h) {
          const [na, nh] = this.next(h, GET_EMPTY);
          addr = na;
          h = nh;
        }
        if (this.spaceLeftInPage(addr) < required) addr = this.nextPage(addr);
        else freeAddr = addr;
      } while (addr && !freeAddr);
      if (!freeAddr) {
        if (compacted) return 0;
        compacted = true;
        if (!this.compact()) return 0;
      }
    }
    const hdr = new Uint8Array(HEADER_SIZE);
    const word = (size | (flags << 24)) >>> 0;
    hdr[0] = word & 255;
    hdr[1] = (word >>> 8) & 255;
    hdr[2] = (word >>> 16) & 255;
    hdr[3] = (word >>> 24) & 255;
    hdr.set(EspruinoStorage.nameBytes(name), 4);
    this.program(freeAddr, hdr);
    return freeAddr + HEADER_SIZE;
  }

  // ------------------------------------------------------------------------------------------ public operations

  /** jsfWriteFile semantics; throws StorageError where the interpreter raises an exception, false where it returns it. */
  write(name: string, data: Uint8Array, offset: number, size: number): boolean {
    if (offset < 0 || size < 0) return false;
    const dLen = data.length;
    if (size === 0) size = dLen;
    if (size === 0) return false;
    let f = this.findFile(name);
    let addr = f ? f.addr : 0;
    let fileSize = f ? f.size : 0;
    if (
      (!f && offset === 0) ||
      (f && offset === 0 && (f.flags !== 0 || size !== f.size || !this.flash.isErased(f.addr, size)))
    ) {
      if (f && offset === 0 && size === f.size && f.flags === 0 && dLen === size && this.isEqual(f.addr, data))
        return true;
      if (f) this.eraseFileInternal(f.addr);
      addr = this.createFile(name, size, 0);
      fileSize = size;
      f = undefined;
    }
    if (!addr) throw new StorageError("Unable to find or create file");
    if (offset + dLen > fileSize) throw new StorageError("Too much data for file size");
    if (!this.flash.isErased(addr + offset, dLen)) throw new StorageError("File already written with different data");
    if (dLen) this.program(addr + offset, data);
    return true;
  }

  /** jsfReadFile with its clipping of offset/length; undefined when the file does not exist. */
  read(name: string, offset = 0, length = 0): Uint8Array | undefined {
    const f = this.findFile(name);
    if (!f) return undefined;
    if (offset < 0) offset = 0;
    if (length <= 0) length = f.size;
    if (offset > f.size) offset = f.size;
    if (offset + length > f.size) length = f.size - offset;
    if (length <= 0) return new Uint8Array(0);
    return this.flash.read(f.addr + offset, length);
  }

  erase(name: string): boolean {
    const f = this.findFile(name);
    if (!f) return false;
    this.eraseFileInternal(f.addr);
    return true;
  }

  list(regex?: RegExp): string[] {
    const out: string[] = [];
    for (const h of this.headers()) {
      if (h.firstChars === 0) continue;
      const n = EspruinoStorage.nameString(this.fullName(h));
      if (!regex || n.match(regex)) out.push(n);
    }
    return out;
  }

  /** jsfGetStorageStats over all pages. `freeBytes` is the space after the last file (what getFree reports). */
  stats(): StorageStats {
    const s: StorageStats = {
      totalBytes: this.end - this.start,
      freeBytes: 0,
      fileBytes: 0,
      fileCount: 0,
      trashBytes: 0,
      trashCount: 0,
    };
    let lastAddr = this.start;
    for (const h of this.headers()) {
      const fileSize = this.align(this.fileSize(h)) + HEADER_SIZE;
      lastAddr = h.addr + fileSize;
      if (h.firstChars !== 0) {
        s.fileBytes += fileSize;
        s.fileCount++;
      } else {
        s.trashBytes += fileSize;
        s.trashCount++;
      }
    }
    s.freeBytes = this.end - lastAddr;
    return s;
  }

  getFree(): number {
    return this.stats().freeBytes;
  }

  eraseAll(): void {
    for (let a = this.start; a < this.end; a += this.flash.pageSize) {
      if (!this.flash.isErased(a, this.flash.pageSize)) this.erasePage(a);
    }
  }

  /** Live files with their data, in storage order (host-side inspection, no flash operations). */
  files(): { name: string; addr: number; size: number; data: Uint8Array }[] {
    const out: { name: string; addr: number; size: number; data: Uint8Array }[] = [];
    for (const h of this.headers()) {
      if (h.firstChars === 0) continue;
      const size = this.fileSize(h);
      out.push({
        name: EspruinoStorage.nameString(this.fullName(h)),
        addr: h.addr + HEADER_SIZE,
        size,
        data: this.flash.read(h.addr + HEADER_SIZE, size),
      });
    }
    return out;
  }

  private isEqual(addr: number, data: Uint8Array): boolean {
    const cur = this.flash.read(addr, data.length);
    for (let i = 0; i < data.length; i++) if (cur[i] !== data[i]) return false;
    return true;
  }

  // ------------------------------------------------------------------------------------------ compaction

  /**
   * jsfBankCompact + jsfCompactInternal: copies live files down through a circular swap buffer of at most one page
   * plus a header, erasing each destination page as it is reached, never writing into a page still being read.
   * A power cut in here can lose files, as on the device.
   */
  compact(): boolean {
    const stats = this.stats();
    if (!stats.trashBytes) return true;
    const maxRequired = this.flash.pageSize + HEADER_SIZE;
    const bufSize = Math.min(stats.fileBytes, maxRequired);
    const buf = new Uint8Array(bufSize);
    const st = { head: 0, tail: 0, used: 0, write: this.start };

    const copyIn = (src: Uint8Array) => {
      for (let i = 0; i < src.length; i++) {
        buf[st.head] = src[i];
        st.head = (st.head + 1) % bufSize;
      }
    };
    const flush = (readAddress: number) => {
      let nextFlashPage = this.nextPage(st.write) || this.end;
      while (st.used) {
        let s = st.used;
        if (s + st.tail > bufSize) s = bufSize - st.tail;
        if (s + st.write > nextFlashPage) s = nextFlashPage - st.write;
        if (readAddress < nextFlashPage) return;
        const p = this.page(st.write);
        if (p && p[0] === st.write) this.erasePage(st.write);
        this.program(st.write, buf.slice(st.tail, st.tail + s));
        st.write += s;
        nextFlashPage = this.nextPage(st.write) || this.end;
        st.tail = (st.tail + s) % bufSize;
        st.used -= s;
      }
    };

    let h = this.header(this.start);
    let lastAddr = this.start;
    while (h) {
      if (h.firstChars !== 0) {
        copyIn(this.flash.read(h.addr, HEADER_SIZE));
        st.used += HEADER_SIZE;
        let alignedSize = this.align(this.fileSize(h));
        let alignedPtr = h.addr + HEADER_SIZE;
        flush(alignedPtr);
        while (alignedSize) {
          let s = bufSize - st.used;
          if (s > bufSize - st.head) s = bufSize - st.head;
          if (st.tail > st.head && s > st.tail - st.head) s = st.tail - st.head;
          if (s === 0) return false;
          if (s > alignedSize) s = alignedSize;
          copyIn(this.flash.read(alignedPtr, s));
          alignedSize -= s;
          alignedPtr += s;
          st.used += s;
          flush(alignedPtr);
        }
      }
      const [na, nh] = this.next(h, GET_ALL);
      lastAddr = na;
      h = nh;
    }
    flush(this.end);
    let writeAddress = st.write;
    if (writeAddress !== this.start) writeAddress = this.nextPage(writeAddress - 1);
    if (writeAddress) {
      const addr = lastAddr || this.end;
      this.eraseUsedFrom(writeAddress, addr);
    }
    return true;
  }

  /** jshFlashErasePages(from, to - from). */
  private eraseUsedFrom(from: number, to: number): void {
    for (let a = this.flash.pageStart(from); a < to && a < this.end; a += this.flash.pageSize) this.erasePage(a);
  }

  /** Debug listing like Storage.debug(): every header including trash. */
  debug(): { addr: number; name: string; size: number; deleted: boolean }[] {
    const out: { addr: number; name: string; size: number; deleted: boolean }[] = [];
    for (const h of this.headers()) {
      out.push({
        addr: h.addr + HEADER_SIZE,
        name: EspruinoStorage.nameString(this.fullName(h)),
        size: this.fileSize(h),
        deleted: h.firstChars === 0,
      });
    }
    return out;
  }

  /** Raw size word at an address (tests of torn headers). */
  rawSizeAt(addr: number): number {
    return this.flash.readU32(addr);
  }
}

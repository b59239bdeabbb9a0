import { Flash } from "../../../firmware/src/hw/types";
import { NorFlash } from "../../../host-tools/src/sim/flash";
import { EspruinoStorage, StorageError } from "../../../host-tools/src/sim/storage";

/** Thrown by FakeFlash when an injected power cut happens; the test then "reboots" on the same flash. */
export class PowerCut extends Error {
  constructor() {
    super("power cut");
  }
}

/**
 * Storage files with nRF52 semantics for unit tests: files are preallocated (erased to 0xFF), writes can only
 * clear bits (an attempt to set one fails, like Storage refusing to write written flash), a capacity limit,
 * and power cuts injected after a given number of bytes written (the byte being written is left half-done).
 */
export class FakeFlash implements Flash {
  files = new Map<string, Uint8Array>();
  /** Bytes that may still be written before the power goes; -1 = no cut planned. */
  cutAfter = -1;
  bytesWritten = 0;
  writes = 0;
  erases = 0;
  compactions = 0;

  constructor(public capacity = 1 << 20) {}

  used(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.length + 32;
    return n;
  }

  read(name: string, offset: number, length: number): Uint8Array | undefined {
    const f = this.files.get(name);
    if (!f) return undefined;
    return f.slice(offset, offset + length);
  }

  private tick(): void {
    if (this.cutAfter === 0) {
      this.cutAfter = -1;
      throw new PowerCut();
    }
    if (this.cutAfter > 0) this.cutAfter--;
  }

  write(name: string, data: Uint8Array, offset: number, size?: number): boolean {
    this.writes++;
    let f = this.files.get(name);
    if (size !== undefined && offset === 0) {
      if (f) this.erase(name);
      if (this.used() + size + 32 > this.capacity) return false;
      this.tick();
      f = new Uint8Array(size).fill(0xff);
      this.files.set(name, f);
    }
    if (!f || offset < 0 || offset + data.length > f.length || offset % 4 !== 0) return false;
    for (let i = 0; i < data.length; i++) {
      if ((f[offset + i] & data[i]) !== data[i]) return false;
    }
    for (let i = 0; i < data.length; i++) {
      if (this.cutAfter === 0) {
        // Half a byte: some bits cleared, some not.
        f[offset + i] &= data[i] | 0x0f;
      }
      this.tick();
      f[offset + i] &= data[i];
      this.bytesWritten++;
    }
    return true;
  }

  erase(name: string): void {
    if (this.files.has(name)) {
      this.tick();
      this.erases++;
      this.files.delete(name);
    }
  }

  compact(): void {
    this.compactions++;
  }
}

/**
 * The band's Flash as hw/espruino.ts implements it, on the simulator's port of Espruino's Storage over a NOR flash
 * image: erased files stay in the image until a compaction, so a test can scan the raw bytes as an attacker would.
 */
export class StorageFlash implements Flash {
  readonly nor: NorFlash;
  readonly storage: EspruinoStorage;
  compactions = 0;

  constructor(bytes = 40960) {
    this.nor = new NorFlash(0x60000, bytes, 4096);
    this.storage = new EspruinoStorage(this.nor);
  }

  read(name: string, offset: number, length: number): Uint8Array | undefined {
    return this.storage.read(name, offset, length);
  }

  write(name: string, data: Uint8Array, offset: number, size?: number): boolean {
    for (let tries = 0; tries < 2; tries++) {
      try {
        if (this.storage.write(name, data, offset, size ?? 0)) return true;
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
      }
      if (!size) break;
      this.storage.compact();
    }
    return false;
  }

  erase(name: string): void {
    this.storage.erase(name);
  }

  compact(): void {
    this.compactions++;
    this.storage.compact();
  }
}

/** A deterministic RNG for tests (xorshift32). */
export function seededRand(seed: number): () => number {
  let x = seed | 0 || 1;
  return function () {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

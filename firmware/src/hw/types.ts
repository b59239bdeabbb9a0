/**
 * The tiny hardware surface the band logic uses. hw/espruino.ts implements it on the real interpreter (and so on
 * the simulator, which runs the same bundle); unit tests pass in-memory fakes. Nothing here may throw: failures
 * come back as return values.
 */

/** Storage files with nRF52 flash semantics: preallocate, then fill erased (0xFF) bytes by offset. */
export interface Flash {
  /** A copy of `length` bytes from `offset`, or undefined when the file does not exist. */
  read(name: string, offset: number, length: number): Uint8Array | undefined;
  /** Writes `data` at `offset`; with `size` (and offset 0) first creates the file of that size. False on failure. */
  write(name: string, data: Uint8Array, offset: number, size?: number): boolean;
  erase(name: string): void;
  /** Reclaims erased files' space; may take a while. */
  compact(): void;
}

export interface Platform {
  /** Seconds since power-on (Espruino getTime(), never set by the band: it survives a reset, not a power loss). */
  uptime(): number;
  /** 32 bits from the hardware random number generator. */
  rand32(): number;
  flash: Flash;
}

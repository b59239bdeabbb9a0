/**
 * The tiny hardware surface the band logic uses. hw/espruino.ts implements it on the real interpreter (and so on
 * the simulator, which runs the same bundle); unit tests pass in-memory fakes. Nothing here may throw: failures
 * come back as return values.
 */

/** Storage files with nRF52 flash semantics: preallocate, then fill erased (0xFF) bytes by offset. */
export interface Flash {
  /** A copy of `length` bytes from `offset`, or undefined when the file does not exist. */
  read(name: string, offset: number, length: number): Uint8Array | undefined;
  /**
   * Writes `data` at `offset`; with `size` (and offset 0) first creates the file of that size, compacting Storage
   * once if there is no room. False on failure.
   */
  write(name: string, data: Uint8Array, offset: number, size?: number): boolean;
  /**
   * Marks the file deleted (Storage.erase): its bytes stay readable in flash until a compaction. Storage never
   * writes over written bytes, so the only way to destroy them is `compact`.
   */
  erase(name: string): void;
  /**
   * Compacts Storage: every page from the start of Storage to its last file is erased and the live files written
   * back, so no erased file's byte survives. Returns at once when nothing was erased; a failure is a fault.
   */
  compact(): void;
}

export interface Platform {
  /** Seconds since power-on (Espruino getTime(), never set by the band: it survives a reset, not a power loss). */
  uptime(): number;
  /** 32 bits from the hardware random number generator. */
  rand32(): number;
  flash: Flash;
  /** Kicks the hardware watchdog (enabled at boot, never kicked automatically: tuning.ts WATCHDOG_S). */
  kick(): void;
}

/** The radio and board surface the band drives (hw/espruino.ts: NRF.*, E.getBattery). */
export interface Radio {
  /**
   * Raw 31-byte advert; non-connectable adverts keep going while a central is connected. While asleep the stack only
   * keeps it: it goes out at `wake`.
   */
  advertise(packet: Uint8Array, intervalMs: number, connectable: boolean): void;
  /** Stops advertising and ends a connection (the disconnect event follows): nothing goes out until `wake`. */
  sleep(): void;
  /**
   * Asleep, with no connection left and the new advert set (`advertise`): the new identity goes on air at once, its
   * random static address ("aa:bb:cc:dd:ee:ff random") and GAP device name with the advert, so that no packet pairs
   * the old advert with the new address or the new advert with the old one. Restarts the stack: scanning must be
   * re-applied.
   */
  wake(address: string, name: string): void;
  /** Starts scanning with the Exposure Notification + Bluezone filters, or stops when `onDevice` is undefined. */
  scan(onDevice: ((device: ScanDevice) => void) | undefined): void;
  /** Notifies a response frame; false when the stack refused it (a notification it drops for a full queue is true). */
  notify(frame: Uint8Array): boolean;
  disconnect(): void;
  /** Battery level in percent (0-100). */
  batteryPercent(): number;
  /** Restarts the interpreter (after a wipe). */
  reboot(): void;
  /**
   * Adds the JavaScript console over Bluetooth (the Nordic UART service) to the services until the next restart.
   * Only without a connection: the stack restarts at once, which wakes the radio (sleep again if it must stay quiet).
   */
  console(): void;
}

/** The fields of an Espruino BluetoothDevice the band reads (values may be ArrayBuffers or arrays). */
export interface ScanDevice {
  /** "aa:bb:cc:dd:ee:ff random" (lowercase hex; " public" or no suffix for public addresses). */
  id?: string;
  rssi?: number;
  serviceData?: { [uuid: string]: ArrayBuffer | number[] };
  manufacturer?: number;
  manufacturerData?: ArrayBuffer | number[];
}

/** One-shot timers whose callbacks the caller has already wrapped in try/catch. */
export interface Timers {
  after(fn: () => void, ms: number): unknown;
  cancel(handle: unknown): void;
}

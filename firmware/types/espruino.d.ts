/**
 * The Espruino (nRF52) globals the firmware may use, for `tsc -p firmware/tsconfig.json`.
 *
 * The firmware compiles against `lib: ["es5"]` plus this file only: no DOM, no Node, no Map/Set/Symbol/Promise
 * `finally`, so using something the interpreter lacks is a compile error. Two ES5 members Espruino lacks stay
 * declared by lib.es5 (Object.freeze, Array.prototype.lastIndexOf); the dialect gate (host-tools/src/build/gate.ts)
 * rejects them in the bundle. Signatures follow the Espruino reference (espruino.com/Reference); only what the
 * firmware needs is declared — extend it when the firmware needs more, checking the interpreter's docs first.
 */

// ---- ES2015+ members the interpreter does implement (lib.es5 lacks them) -------------------------------------

interface String {
  padStart(targetLength: number, padString?: string): string;
  padEnd(targetLength: number, padString?: string): string;
  includes(searchString: string, position?: number): boolean;
  startsWith(searchString: string, position?: number): boolean;
  endsWith(searchString: string, endPosition?: number): boolean;
  repeat(count: number): string;
  replaceAll(searchValue: string | RegExp, replaceValue: string): string;
}

interface Array<T> {
  find(predicate: (value: T, index: number, obj: T[]) => unknown): T | undefined;
  findIndex(predicate: (value: T, index: number, obj: T[]) => unknown): number;
  fill(value: T, start?: number, end?: number): this;
  includes(searchElement: T, fromIndex?: number): boolean;
}

interface ObjectConstructor {
  assign<T extends object, U>(target: T, source: U): T & U;
}

/** Espruino's Promise: `then`, `catch`, `Promise.all`, `resolve`, `reject`; no `finally`. */
interface PromiseConstructor {
  new <T>(executor: (resolve: (value: T) => void, reject: (reason?: unknown) => void) => void): Promise<T>;
  all<T>(values: readonly (T | PromiseLike<T>)[]): Promise<T[]>;
  resolve<T>(value: T): Promise<T>;
  resolve(): Promise<void>;
  reject<T = never>(reason?: unknown): Promise<T>;
}
interface Promise<T> {
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2>;
  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R>;
}
declare const Promise: PromiseConstructor;

// ---- Timers and time ---------------------------------------------------------------------------------------

/** Seconds (float) since 1970, or since power-on when the clock was never set. */
declare function getTime(): number;
/** Sets the clock (seconds since 1970); timers keep their relative timing. */
declare function setTime(seconds: number): void;
/** Any callback: Espruino passes the extra arguments of setTimeout/setInterval to it. */
type EspruinoCallback = (...args: never[]) => void;
/** Returns a timer id; note that `clearTimeout()` with no argument clears every timer. */
declare function setTimeout(fn: EspruinoCallback, ms?: number, ...args: unknown[]): number;
declare function setInterval(fn: EspruinoCallback, ms?: number, ...args: unknown[]): number;
declare function clearTimeout(id?: number): void;
declare function clearInterval(id?: number): void;
declare function changeInterval(id: number, ms: number): void;

// ---- Console and text --------------------------------------------------------------------------------------

declare function print(...text: unknown[]): void;
declare const console: { log(...text: unknown[]): void };
declare function btoa(binary: string): string;
declare function atob(base64: string): string;
declare function peek8(addr: number, count?: number): number;

// ---- Modules built into the interpreter --------------------------------------------------------------------

type EspruinoData = string | ArrayBuffer | ArrayBufferView | number[];

/** `require("Storage")`: flash files (nRF52: 4096-byte pages, writes can only clear bits). */
interface EspruinoStorage {
  /**
   * Writes `data` at `offset`. With offset 0 and `size`, creates a file of `size` bytes whose untouched regions
   * later writes may fill. Throws when storage is full ("Unable to find or create file").
   */
  write(name: string, data: EspruinoData, offset?: number, size?: number): boolean;
  /** A memory-mapped string (no RAM copy), or undefined when the file does not exist. */
  read(name: string, offset?: number, length?: number): string | undefined;
  readArrayBuffer(name: string): ArrayBuffer | undefined;
  readJSON(name: string, noExceptions?: boolean): unknown;
  writeJSON(name: string, data: unknown): boolean;
  erase(name: string): void;
  list(pattern?: RegExp | string, filter?: { sf?: boolean }): string[];
  getFree(checkInternalFlash?: boolean): number;
  compact(showMessage?: boolean): void;
  getStats(): {
    totalBytes: number;
    freeBytes: number;
    fileBytes: number;
    fileCount: number;
    trashBytes: number;
    trashCount: number;
  };
}

interface EspruinoAesOptions {
  iv?: EspruinoData;
  mode?: "CBC" | "CFB" | "CTR" | "OFB" | "ECB";
}

/** `require("crypto")`: which members exist depends on the board (boards/<id>.json `crypto`). */
interface EspruinoCrypto {
  SHA1(message: EspruinoData): ArrayBuffer;
  SHA256(message: EspruinoData): ArrayBuffer;
  SHA512(message: EspruinoData): ArrayBuffer;
  AES: {
    /** Note: mode CTR ignores `iv` (the counter starts at zero). */
    encrypt(plaintext: EspruinoData, key: EspruinoData, options?: EspruinoAesOptions): ArrayBuffer;
    decrypt(ciphertext: EspruinoData, key: EspruinoData, options?: EspruinoAesOptions): ArrayBuffer;
  };
}

declare function require(module: "Storage"): EspruinoStorage;
declare function require(module: "crypto"): EspruinoCrypto;

/** Global AES-CCM (Bangle.js 2: boards/<id>.json `crypto.aesCcm`). */
declare const AES: {
  ccmEncrypt(
    message: EspruinoData,
    key: EspruinoData,
    nonce: EspruinoData,
    tagLen: number,
  ): { data: ArrayBuffer; tag: ArrayBuffer };
  ccmDecrypt(message: EspruinoData, key: EspruinoData, nonce: EspruinoData, tag: EspruinoData): ArrayBuffer;
};

// ---- Bluetooth: NRF ----------------------------------------------------------------------------------------

interface NrfAdvertisingOptions {
  /** Milliseconds; non-connectable advertising needs >= 100. */
  interval?: number;
  connectable?: boolean;
  scannable?: boolean;
  showName?: boolean;
  /** Since 2v26 a manufacturer 0x0590 field is added by default: pass false to leave it out. */
  manufacturer?: number | false;
  manufacturerData?: EspruinoData;
  discoverable?: boolean;
  whenConnected?: boolean;
  phy?: string;
}

/** A device seen while scanning (Espruino's BluetoothDevice). */
interface NrfDevice {
  /** "aa:bb:cc:dd:ee:ff random" or "... public". */
  id: string;
  rssi: number;
  /** The raw advert. */
  data: ArrayBuffer;
  name?: string;
  services?: string[];
  /** Keys are lower-case hex service UUIDs such as "fd6f". */
  serviceData?: { [uuid: string]: ArrayBuffer };
  manufacturer?: number;
  manufacturerData?: ArrayBuffer;
}

interface NrfScanFilter {
  services?: string[];
  serviceData?: { [uuid: string]: object };
  manufacturerData?: { [company: number]: object };
  name?: string;
  namePrefix?: string;
  id?: string;
}

interface NrfScanOptions {
  filters?: NrfScanFilter[];
  active?: boolean;
  /** Scan interval and window in ms (since 2v22). */
  interval?: number;
  window?: number;
  phy?: string;
  extended?: boolean;
}

interface NrfCharacteristic {
  value?: EspruinoData;
  maxLen?: number;
  broadcast?: boolean;
  readable?: boolean;
  writable?: boolean;
  notify?: boolean;
  indicate?: boolean;
  description?: string;
  security?: { read?: object; write?: object };
  onWrite?: (evt: { data: ArrayBuffer }) => void;
  onWriteDesc?: (evt: { data: ArrayBuffer }) => void;
}

/** `{serviceUuid: {charUuid: NrfCharacteristic}}`; loosely typed because UUID keys are built at run time. */
interface NrfServices {
  [serviceUuid: string]: unknown;
}

interface NrfServiceOptions {
  /** false removes the Nordic UART service: nobody can reach the console over Bluetooth. */
  uart?: boolean;
  uartTxMax?: number;
  advertise?: string[];
  hid?: ArrayBuffer | false;
}

interface NrfSecurity {
  display?: boolean;
  keyboard?: boolean;
  bond?: boolean;
  mitm?: boolean;
  lesc?: boolean;
  passkey?: string;
  oob?: string;
  encryptUart?: boolean;
}

interface NrfInterface {
  /** `data`: raw bytes (flags included), `{uuid: bytes}` service data, or an array of packets sent in turn. */
  setAdvertising(data: EspruinoData | object | EspruinoData[], options?: NrfAdvertisingOptions): void;
  getAdvertisingData(data: EspruinoData | object, options?: NrfAdvertisingOptions): ArrayBuffer;
  setScanResponse(data: EspruinoData | undefined): void;
  /** Restarts the BLE stack (only when nothing is connected) and resets scan parameters to defaults. */
  setAddress(address: string): void;
  getAddress(): string;
  /** Starts scanning with `callback`, or stops when called without one. */
  setScan(callback?: (device: NrfDevice) => void, options?: NrfScanOptions): void;
  findDevices(
    callback: (devices: NrfDevice[]) => void,
    options?: number | { timeout?: number; filters?: NrfScanFilter[]; active?: boolean },
  ): void;
  setServices(services: NrfServices | undefined, options?: NrfServiceOptions): void;
  /** Updates characteristic values; `notify: true` notifies a connected central. */
  updateServices(services: NrfServices): void;
  setSecurity(options: NrfSecurity): void;
  setTxPower(dbm: number): void;
  setConnectionInterval(interval: number | "auto" | { minInterval: number; maxInterval: number }): void;
  disconnect(): void;
  /** Stops advertising and disconnects; `wake` restarts it. */
  sleep(): void;
  wake(): void;
  restart(callback?: () => void): void;
  /** Battery voltage in volts as the nRF52 measures its supply. */
  getBattery(): number;
  setRSSIHandler(callback?: (rssi: number) => void): void;
  /** "connect" passes the peer address, "disconnect" the reason code. */
  on(event: "connect" | "disconnect" | "NFCon" | "NFCoff" | "servicesDiscover", callback: EspruinoCallback): void;
  removeAllListeners(event?: string): void;
}

declare const NRF: NrfInterface;

// ---- E: the interpreter ------------------------------------------------------------------------------------

interface EspruinoE {
  /** 32 random bits from the hardware random number generator. */
  hwRand(): number;
  getTemperature(): number;
  /** Battery level 0-100 (board-specific conversion). */
  getBattery(): number;
  /** Moves the console: e.g. "Serial1", "USB", or null. `options.force` stops it moving back on connect. */
  setConsole(device: string | null, options?: { force?: boolean }): void;
  reboot(): void;
  /** JsVars used by a value. */
  getSizeOf(v: unknown, depth?: number): number;
  enableWatchdog(timeoutSeconds: number, isAuto?: boolean): void;
  kickWatchdog(): void;
  toArrayBuffer(s: string): ArrayBuffer;
  toUint8Array(...data: unknown[]): Uint8Array;
  toString(...data: unknown[]): string;
  toJS(v: unknown): string;
  CRC32(data: EspruinoData): number;
  getErrorFlags(): string[];
  on(event: "init" | "kill" | "errorFlag", callback: EspruinoCallback): void;
  removeAllListeners(event?: string): void;
  setPassword(password: string): void;
  lockConsole(): void;
  setDeepSleep(sleep: boolean): void;
}

declare const E: EspruinoE;

// ---- process -----------------------------------------------------------------------------------------------

interface EspruinoMemory {
  free: number;
  usage: number;
  total: number;
  history: number;
  gc: number;
  gctime: number;
  blocksize: number;
  stackEndAddress?: number;
  flash_start?: number;
  flash_binary_end?: number;
  flash_code_start?: number;
  flash_length?: number;
}

declare const process: {
  version: string;
  env: { VERSION: string; BOARD: string; [key: string]: unknown };
  /** Runs a garbage collection (unless `gc` is false) and reports JsVar usage. */
  memory(gc?: boolean): EspruinoMemory;
  on(event: "uncaughtException", callback: EspruinoCallback): void;
};

// ---- Pins (only what the firmware uses: LEDs and the button) -----------------------------------------------

declare function digitalWrite(pin: unknown, value: number | boolean): void;
declare function digitalRead(pin: unknown): number;
declare function analogRead(pin: unknown): number;
declare function setWatch(
  callback: (e: { state: boolean; time: number; lastTime: number }) => void,
  pin: unknown,
  options?: { repeat?: boolean; edge?: "rising" | "falling" | "both"; debounce?: number },
): number;
declare function clearWatch(id?: number): void;

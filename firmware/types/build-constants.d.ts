/**
 * Constants the firmware build (host-tools/src/build/defines.ts) injects with esbuild `define`. Each is replaced
 * by a literal, so `if (__CRYPTO_AES_ECB__) ... else ...` folds at build time and the bundle for a board keeps only
 * the branch it can run (the pure AES is dropped where native ECB exists, and the reverse). Members of an object
 * define are not folded by esbuild, hence one identifier per value.
 *
 * Values come from boards/<id>.json (see host-tools/src/boards/profile.ts for what each field means),
 * `tracelet build --dev`, and package.json. Host code that imports firmware modules (tests, simulator) declares
 * them as globals with the same names before loading, or loads the built bundle instead.
 */

/** Board id, e.g. "puckjs" (boards/<id>.json `id`). */
declare const __BOARD__: string;
/** Espruino's board name, e.g. "PUCKJS" (`espruinoBoard`). */
declare const __ESPRUINO_BOARD__: string;
/** true for `tracelet build --dev`: keeps the Bluetooth console and debug logs. Production: false. */
declare const __DEV__: boolean;
/** package.json version of the build, e.g. "0.1.0". */
declare const __FIRMWARE_VERSION__: string;

/** JsVars available to JavaScript. */
declare const __JS_VARS__: number;
/** Bytes of flash available to require("Storage"). */
declare const __STORAGE_BYTES__: number;
/** Flash erase page size in bytes. */
declare const __FLASH_PAGE_SIZE__: number;
/** Storage bytes reserved for the encounter log (a whole number of pages). */
declare const __LOG_BUDGET_BYTES__: number;
/** Largest bundle the board can hold (the build fails above it). */
declare const __BUNDLE_BUDGET_BYTES__: number;
/** BLE ATT MTU the firmware can use. */
declare const __MTU__: number;

/** require("crypto").SHA1 exists. */
declare const __CRYPTO_SHA1__: boolean;
/** require("crypto").SHA256 exists. */
declare const __CRYPTO_SHA256__: boolean;
/** require("crypto").AES.encrypt with mode "ECB" exists. */
declare const __CRYPTO_AES_ECB__: boolean;
/** Global AES.ccmEncrypt / AES.ccmDecrypt exist. */
declare const __CRYPTO_AES_CCM__: boolean;

/** NRF.setTxPower setting in dBm. */
declare const __TX_POWER_DBM__: number;
/** Radiated power at 1 m as GAEN metadata carries it, in dBm. */
declare const __CALIBRATED_TX_DBM__: number;
/** Advertising interval in ms (200-270). */
declare const __ADVERTISING_INTERVAL_MS__: number;

/** How the battery level is read. */
declare const __BATTERY_READOUT__: "E.getBattery" | "analogRead" | "NRF.getBattery";
/** Analog pin name for analogRead readout, "" otherwise. */
declare const __BATTERY_PIN__: string;
/** Battery voltage read as 0% (0 when the profile gives none). */
declare const __BATTERY_EMPTY_V__: number;
/** Battery voltage read as 100% (0 when the profile gives none). */
declare const __BATTERY_FULL_V__: number;
/** Battery capacity in mAh. */
declare const __BATTERY_CAPACITY_MAH__: number;

/** Worst-case clock drift in parts per million. */
declare const __RTC_PPM__: number;

import { BoardProfile } from "../boards/profile";

/**
 * Build-time constants for the firmware, injected with esbuild `define` (declared for the firmware type check in
 * firmware/types/build-constants.d.ts). One identifier per value: esbuild folds `__CRYPTO_AES_ECB__ ? a : b` to
 * one branch, which it does not do for members of an object define.
 */
export type BuildConstantValue = string | number | boolean;
export type BuildConstants = Record<string, BuildConstantValue>;

export interface DeploymentSettings {
  /** `--dev`: keep the Bluetooth console and debug logs. */
  dev: boolean;
  /** package.json version. */
  firmwareVersion: string;
}

export function buildConstants(board: BoardProfile, settings: DeploymentSettings): BuildConstants {
  return {
    __BOARD__: board.id,
    __ESPRUINO_BOARD__: board.espruinoBoard,
    __DEV__: settings.dev,
    __FIRMWARE_VERSION__: settings.firmwareVersion,
    __JS_VARS__: board.jsVars,
    __STORAGE_BYTES__: board.storageBytes,
    __FLASH_PAGE_SIZE__: board.flashPageSize,
    __LOG_BUDGET_BYTES__: board.logBudgetBytes,
    __BUNDLE_BUDGET_BYTES__: board.bundleBudgetBytes,
    __MTU__: board.mtu,
    __CRYPTO_SHA1__: board.crypto.sha1,
    __CRYPTO_SHA256__: board.crypto.sha256,
    __CRYPTO_AES_ECB__: board.crypto.aesEcb,
    __CRYPTO_AES_CCM__: board.crypto.aesCcm,
    __TX_POWER_DBM__: board.radio.txPowerDbm,
    __CALIBRATED_TX_DBM__: board.radio.calibratedTxDbm,
    __ADVERTISING_INTERVAL_MS__: board.radio.advertisingIntervalMs,
    __BATTERY_READOUT__: board.battery.readout,
    __BATTERY_PIN__: board.battery.pin ?? "",
    __BATTERY_EMPTY_V__: board.battery.emptyVolts ?? 0,
    __BATTERY_FULL_V__: board.battery.fullVolts ?? 0,
    __BATTERY_CAPACITY_MAH__: board.battery.capacityMah,
    __RTC_PPM__: board.rtcPpm,
  };
}

/** The constants as esbuild `define` entries (each value a JavaScript literal). */
export function esbuildDefine(constants: BuildConstants): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(constants)) out[name] = JSON.stringify(value);
  return out;
}

/**
 * The build-time constants (firmware/types/build-constants.d.ts) for firmware modules imported straight from
 * TypeScript in jest, as a Puck.js build defines them. Import this first in a test that loads band modules.
 */
const g = globalThis as Record<string, unknown>;
g.__BOARD__ = "puckjs";
g.__DEV__ = false;
g.__CRYPTO_SHA256__ = true;
g.__CRYPTO_AES_ECB__ = true;
g.__BUNDLE_BUDGET_BYTES__ = 16384;
g.__BATTERY_READOUT__ = "E.getBattery";
g.__BATTERY_EMPTY_V__ = 2;
g.__BATTERY_FULL_V__ = 3;
g.__MTU__ = 53;
g.__LOG_BUDGET_BYTES__ = 20480;
g.__CALIBRATED_TX_DBM__ = -8;
declare global {
  // Mirrors firmware/types/build-constants.d.ts for the root (host and test) type check.
  const __BOARD__: string;
  const __DEV__: boolean;
  const __CRYPTO_SHA256__: boolean;
  const __CRYPTO_AES_ECB__: boolean;
  const __BUNDLE_BUDGET_BYTES__: number;
  const __BATTERY_READOUT__: string;
  const __BATTERY_EMPTY_V__: number;
  const __BATTERY_FULL_V__: number;
  const __MTU__: number;
  const __LOG_BUDGET_BYTES__: number;
  const __CALIBRATED_TX_DBM__: number;
}

export {};

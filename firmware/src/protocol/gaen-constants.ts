/**
 * Exposure Notification constants (protocol/gaen.ts). This file imports nothing, so esbuild inlines each constant
 * where it is used (it keeps a variable for constants of modules that import). Re-exported by the owning module.
 */

/** Seconds in one ENInterval. */
export const EN_INTERVAL_SECONDS = 600;
/** Intervals one TEK covers. */
export const EN_TEK_ROLLING_PERIOD = 144;
/** Metadata version byte: major 1, minor 0. */
export const EN_METADATA_VERSION = 0x40;

/**
 * Provisioning record constants (protocol/provisioning.ts). This file imports nothing, so esbuild inlines each constant
 * where it is used (it keeps a variable for constants of modules that import). Re-exported by the owning module.
 */

/**
 * The provisioning record the flasher writes to the band's Storage (file PROVISIONING_FILE) over USB.
 * It is the band's whole identity: without it the band advertises nothing but a "needs provisioning" discovery
 * advert and its public status says so.
 *
 * Layout (64 bytes, little-endian):
 *   0  "TLP"            magic
 *   3  version          1
 *   4  band id          8 B (also in the authority's band registry)
 *   12 band secret      16 B (escrow TEK derivation, see escrow.ts; kept by the authority in escrow deployments)
 *   28 sync key         16 B (kiosk authentication and discovery tokens; kept in the clinic kiosks' registry)
 *   44 mode             0 = private (random TEKs), 1 = escrow (TEKs derived from the band secret)
 *   45 retention days   1..60 (0 = default 21)
 *   46 tx calibration   int8 dBm carried in the AEM metadata; 127 = use the board profile's value
 *   47 flags            bit 0: provisioning time (bytes 56-59) vouches for the clock set over USB
 *   48 scan period      uint16 seconds between scan windows (0 = firmware default)
 *   50 scan window      uint16 milliseconds (0 = firmware default)
 *   52 rssi floor       int8 dBm: phone encounters weaker than this are not logged, bands 14 dB higher (0 = default)
 *   53 low battery      percent below which the scan period doubles (0 = firmware default)
 *   54 reserved         2 B, zero
 *   56 provisioned at   uint32 Unix seconds (informational; see flags bit 0)
 *   60 reserved         3 B, zero
 *   63 CRC-8            of bytes 0-62 (polynomial 0x07, as record.ts)
 */
export const PROVISIONING_FILE = "tl.prov";
export const PROVISIONING_BYTES = 64;
export const PROVISIONING_VERSION = 1;
export const MODE_PRIVATE = 0;
export const MODE_ESCROW = 1;
export const TX_FROM_BOARD = 127;
export const PROV_FLAG_CLOCK_SET_BY_FLASHER = 1;
export const DEFAULT_RETENTION_DAYS = 21;
/** A clock set over USB is trusted at first boot only if it reads within this window after `provisionedAt`. */
export const FLASHER_CLOCK_WINDOW_S = 3600;

/** Field offsets (the band reads its record in place instead of decoding it into an object). */
export const PROV_BAND_ID = 4;
export const PROV_BAND_SECRET = 12;
export const PROV_SYNC_KEY = 28;
export const PROV_MODE = 44;
export const PROV_RETENTION = 45;
export const PROV_TX = 46;
export const PROV_FLAGS = 47;
export const PROV_SCAN_PERIOD = 48;
export const PROV_SCAN_WINDOW = 50;
export const PROV_RSSI_FLOOR = 52;
export const PROV_LOW_BATTERY = 53;
export const PROV_AT = 56;

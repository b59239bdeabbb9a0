/**
 * Advert constants (protocol/advert.ts). This file imports nothing, so esbuild inlines each constant
 * where it is used (it keeps a variable for constants of modules that import). Re-exported by the owning module.
 */

/**
 * Advertising formats the band sends and logs (shared/PROTOCOLS.md):
 * - Exposure Notification: 31-byte legacy packet, flags + UUID list 0xFD6F + service data (RPI 16 B, AEM 4 B).
 * - Bluezone (Vietnam): manufacturer data, company id 0x22B5, then a 12-byte BluezoneId.
 */
export const EN_SERVICE_UUID = 0xfd6f;
export const BLUEZONE_COMPANY_ID = 0x22b5;
export const EN_ADVERT_LENGTH = 31;

/**
 * The kiosk's exposure check, a pure library (no HTTP, no SQLite): open and verify downloaded export files
 * (export-verify.ts), match their keys and the Bluezone F0 list against every stored band log (match.ts), and turn
 * the matches into per-band, per-day exposures (windows.ts).
 */
export { ExportRefusedError, openExport, verificationKeyFromPem } from "./export-verify";
export type { OpenExportOptions } from "./export-verify";
export { diagnosisKeysOf, MATCH_TOLERANCE_INTERVALS, matchExposures, SightingIndex } from "./match";
export type { DiagnosisKey, IndexStats, KeyMatchStats, MatchLog, Sighting, SightingMatch } from "./match";
export {
  DEFAULT_EXPOSURE_WINDOW_CONFIG,
  ExposureWindowConfigSchema,
  exposureWindows,
  parseExposureWindowConfig,
} from "./windows";
export type { BandExposures, DayExposure, ExposureWindowConfig } from "./windows";

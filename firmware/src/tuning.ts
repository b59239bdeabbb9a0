/**
 * The firmware's numeric design constants in one place (docs/protocol.md explains the choices). This file imports
 * nothing, so esbuild inlines each constant where it is used instead of keeping a variable.
 */

// band.ts
/**
 * Scan duty cycle defaults (the provisioning record may override them): a 0.8 s window every 4 min (+-10%) sees
 * each 15-minute contact about four times; below the low-battery threshold the period doubles. Chosen on the
 * care-home scenario (72 h, 20 bands): recall 0.96, ~82 uA on Puck.js (bench section "firmware").
 */
export const DEFAULT_SCAN_PERIOD_S = 240;
export const DEFAULT_SCAN_WINDOW_MS = 800;
/**
 * A window the stack refused to start (NRF.setScan threw: a fault, counted) is tried again this much later, up to
 * SCAN_RETRIES times, instead of a whole period later: two faults in a row would otherwise cost two windows (8 min
 * without a scan). A scan that keeps failing backs off to the period (and ends in a watchdog reset).
 */
export const SCAN_RETRY_MS = 10 * 1000;
export const SCAN_RETRIES = 3;
/**
 * Logging floors. Encounters with a phone (private address) whose mean RSSI is below DEFAULT_RSSI_FLOOR_DBM are
 * not logged: with GAEN's typical -20 dBm calibration that is 67 dB of attenuation, inside the 70 dB exposure
 * threshold. Bands (random static address, calibrated -4..-8 dBm) are logged from BAND_FLOOR_ABOVE_PHONE_DB
 * higher (-73 dBm: 65-69 dB of attenuation). Chosen on the simulator's care-home scenario under the radio presets
 * fitted to indoor measurements (epfl-indoor, epfl-indoor-light-body; docs/protocol.md section 4): the highest
 * band floor that keeps recall of 15-minute contacts >= 0.97 under both (a floor 2 dB higher drops it to 0.958),
 * since every record below it is a neighbour across a room that fills the log budget. The phone floor cannot
 * rise: at -85 dBm recall fell to 0.93. The provisioning record may move both floors together.
 */
export const DEFAULT_RSSI_FLOOR_DBM = -87;
export const BAND_FLOOR_ABOVE_PHONE_DB = 14;
export const DEFAULT_LOW_BATTERY_PERCENT = 15;
export const FIRMWARE_VERSION = 3;
/** Discovery bursts: every 4-6 s, connectable at 100 ms for 250 ms (docs/protocol.md section 4). */
export const DISCOVERY_PERIOD_MS = 4000;
export const DISCOVERY_JITTER_MS = 2000;
export const DISCOVERY_BURST_MS = 250;
export const DISCOVERY_INTERVAL_MS = 100;
/** Without valid time the band sends no Exposure Notification advert, only the discovery advert at this interval. */
export const DISCOVERY_IDLE_INTERVAL_MS = 1000;
export const DAY_S = 86400;
/** Retention is applied at most this often. */
export const EXPIRE_EVERY_S = 3600;

// identity/rotation.ts
/**
 * With valid time a band rotates at Exposure Notification interval boundaries (Unix time a multiple of
 * ROTATE_EPOCH_S, the RPI's own interval), the next one or the one after at random: 10 or 20 minutes, 15 on average
 * (as many log records a day as the earlier uniform 10-20 minutes). The old identity goes quiet at a random moment in
 * the first ROTATE_SPREAD_MS after the boundary, the new one comes up ROTATE_QUIET_MIN_MS to + ROTATE_QUIET_SPAN_MS
 * after the spread. The bands in a room that rotate at a boundary (two in three) change identity in the same window,
 * in random order, with no timing link between a band's last advert and its first: an observer cannot pair them by
 * time (docs/protocol.md section 2). Silent 1-21 s per rotation (1.2 % of advertising time on average).
 */
export const ROTATE_EPOCH_S = 600;
export const ROTATE_SPREAD_MS = 10 * 1000;
export const ROTATE_QUIET_MIN_MS = 1000;
export const ROTATE_QUIET_SPAN_MS = 10 * 1000;
/** A timer that fires up to this early (the clock's drift correction against the timer's RTC) still counts as on time. */
export const ROTATE_EARLY_S = 2;
/**
 * A central connected when a rotation is due gets this long to finish (a kiosk's sync takes seconds); then the band
 * ends the link and rotates: no peer can hold it on one address longer (issue 19).
 */
export const ROTATE_GRACE_MS = 60 * 1000;
/** The longest quiet of a rotation (quietMs): no advert, no discovery burst. */
export const ROTATE_QUIET_MAX_MS =
  ROTATE_SPREAD_MS + ROTATE_EARLY_S * 1000 + ROTATE_QUIET_MIN_MS + ROTATE_QUIET_SPAN_MS;
/** Without valid time (no Exposure Notification advert, no shared clock to meet at): every 10-20 minutes. */
export const ROTATE_MIN_MS = 10 * 60 * 1000;
export const ROTATE_SPAN_MS = 10 * 60 * 1000;
/** Hardware watchdog timeout (s): discovery kicks it every 4-6 s while every duty runs. */
export const WATCHDOG_S = 60;
/** A rotation that faulted is tried again after a minute (the old identity stays on air meanwhile). */
export const ROTATE_RETRY_MS = 60 * 1000;

// log/encounter-log.ts
/**
 * Storage bytes one log file takes: 1 KB. A full log gives up its oldest file to open a new one, so what it surely
 * holds is all files but one: a quarter of a flash page lost at a time, not half (2 KB files: MDBT42Q kept 13 days
 * of the bench's care home, 1 KB files 14, seed 1; the 32-byte Storage header and the unit-0 segment header per file
 * cost 3.9 %). docs/protocol.md section 4 has the figures and their margin.
 */
export const LOG_FILE_STRIDE = 1024;
/** A log file's data: its Storage bytes less Storage's 32-byte file header (124 8-byte units). */
export const LOG_FILE_BYTES = LOG_FILE_STRIDE - 32;
/**
 * A new log file opens a new segment based this long before the first sighting of the record that opened it: an
 * encounter is written at most MAX_ENCOUNTER_S and two missed scans after its first sighting, so every record the
 * file will hold starts after its header's base. Retention drops a file once the file after it is based more than
 * two leads before the cutoff: all its records are then older than the cutoff. A segment that outgrows its records'
 * 7-bit start (21 h) continues with a new header based this long before the record that needed it.
 */
export const FILE_BASE_LEAD_S = 7200;
/** Units per log file: LOG_FILE_BYTES / RECORD_SIZE (8, protocol/record-constants.ts; a test checks both). */
export const LOG_FILE_UNITS = LOG_FILE_BYTES / 8;

// scan/sightings.ts
/**
 * Added to an encounter's kind in the table when the advert came from a random static address: a band's, whose
 * logging floor is higher than a phone's (band.ts). Never stored: writeRecord keeps only the kind bit.
 */
export const FROM_STATIC = 2;

// scan/encounter-table.ts
/** An encounter missing from this many consecutive scans is finished. */
export const MISSES_TO_CLOSE = 2;
/**
 * An encounter closes once it spans 22 minutes: a record's duration holds 0-6 steps of 4 minutes (the next scan,
 * at most a jittered period later, still rounds to 6). Rotating ids (10-20 min) rarely get there; a fixed Bluezone
 * id or a replayed RPI in range all day takes about three records an hour.
 */
export const MAX_ENCOUNTER_S = 1320;

// state/band-state.ts
/** A boot this many seconds (or more) past the previous boot's uptime is a reset; anything less, a power loss. */
export const RESET_MIN_GAP_S = 2;

// state/journal.ts
export const SLOT = 24;
export const SLOTS = 64;
/** Entries per file: the last slot is the header. */
export const CAPACITY = SLOTS - 1;
export const J_HEADER = 1;
export const J_TEK = 2;
/** The band state entry: power-on epoch, clock and sync cursor (state/band-state.ts). */
export const J_STATE = 3;
/** Journal entry: a = faults, b = last fault's duty, data u16 = resets (firmware/src/faults.ts). */
export const J_FAULTS = 4;

// sync/sync-service.ts
/** Units one READ sends at most (its frames are queued at once: about 100 JsVars on MTU 53). */
export const MAX_READ_UNITS = 32;
/** An idle session ends after this long (checked every WATCH_MS). */
export const WATCH_S = 15;
export const WATCH_MS = WATCH_S * 1000;
/** A connected peer must have authenticated this long after connecting, or the band ends the link. */
export const AUTH_WINDOW_MS = 5000;
/** AUTH_PROVE must follow its CHALLENGE within this long (a cheap bound on slow relays). */
export const PROVE_S = 2;
/** Challenges one connection may ask for: a kiosk retries once; a guesser has to reconnect for each. */
export const MAX_CHALLENGES = 2;
/** A command that arrives while more frames than this are still queued ends the link (a flooding peer). */
export const MAX_QUEUE = 40;
/** After its last error reply to a peer it drops, the band ends the link this much later (the reply goes out). */
export const DROP_MS = 300;
/** Notifications per pump and the pause between pumps: ~2.5 kB/s on MTU 53 without flooding the stack. */
export const BURST = 4;
export const PACE_MS = 20;

// time/clock.ts
/** Drift corrections are accepted only over at least this long and below this rate; larger errors are jumps. */
export const MIN_DRIFT_SPAN_S = 3600;
export const MAX_DRIFT_PPM = 2000;
export const CLAMP_DRIFT_PPM = 1000;

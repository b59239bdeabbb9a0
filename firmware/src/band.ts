import { duties, faults } from "./faults";
import { Platform, Radio, Timers } from "./hw/types";
import { quietMs, rotateIdentity } from "./identity/rotation";
import * as keys from "./keys/tek-store";
import * as log from "./log/encounter-log";
import { CryptoPrims } from "./protocol/crypto";
import { floor, newBytes, readI8, readU16LE, readU32LE, writeU32LE } from "./protocol/bytes";
import {
  DEFAULT_RETENTION_DAYS,
  MODE_ESCROW,
  PROV_AT,
  PROV_BAND_ID,
  PROV_BAND_SECRET,
  PROV_FLAG_CLOCK_SET_BY_FLASHER,
  PROV_FLAGS,
  PROV_LOW_BATTERY,
  PROV_MODE,
  PROV_RETENTION,
  PROV_RSSI_FLOOR,
  PROV_SCAN_PERIOD,
  PROV_SCAN_WINDOW,
  PROV_SYNC_KEY,
  PROV_TX,
  PROVISIONING_BYTES,
  PROVISIONING_FILE,
  provisioningValid,
  TX_FROM_BOARD,
} from "./protocol/provisioning";
import {
  encodeStatusFields,
  STATUS_FLAG_ESCROW,
  STATUS_FLAG_LOG_DROPPED_UNSYNCED,
  STATUS_FLAG_LOW_BATTERY,
  STATUS_FLAG_TIME_VALID,
} from "./protocol/sync";
import * as table from "./scan/encounter-table";
import { EmitFn } from "./scan/encounter-table";
import { sightDevice } from "./scan/sightings";
import * as state from "./state/band-state";
import * as sync from "./sync/sync-service";
import {
  DAY_S,
  DEFAULT_LOW_BATTERY_PERCENT,
  BAND_FLOOR_ABOVE_PHONE_DB,
  DEFAULT_RSSI_FLOOR_DBM,
  DEFAULT_SCAN_PERIOD_S,
  DEFAULT_SCAN_WINDOW_MS,
  FROM_STATIC,
  DISCOVERY_BURST_MS,
  DISCOVERY_IDLE_INTERVAL_MS,
  DISCOVERY_INTERVAL_MS,
  DISCOVERY_JITTER_MS,
  DISCOVERY_PERIOD_MS,
  EXPIRE_EVERY_S,
  ROTATE_GRACE_MS,
  ROTATE_QUIET_MIN_MS,
  ROTATE_RETRY_MS,
  SCAN_RETRIES,
  SCAN_RETRY_MS,
  FIRMWARE_VERSION,
} from "./tuning";

/**
 * The band: wires state, keys, identity rotation, scanning, the log and the sync service to a radio, a flash and
 * timers. No Espruino globals here (hw/espruino.ts supplies them), so it runs under jest as well as on the band.
 * A module-level singleton like the modules it drives: `start` (re)boots it.
 */

/** Board constants (main.ts fills them from the build's injected constants). */
export interface BandConfig {
  /** Index in protocol/sync.ts BOARD_CODES. */
  boardCode: number;
  mtu: number;
  logBudgetBytes: number;
  advertisingIntervalMs: number;
  calibratedTxDbm: number;
  /** Rows of the encounter table: the most distinct ids one scan can hold. */
  tableRows: number;
}

let c: CryptoPrims;
let p: Platform;
let radio: Radio;
let timers: Timers;
/** The provisioning record (docs/protocol.md section 3), read in place; undefined: unprovisioned. */
let prov: Uint8Array | undefined;
let syncKey: Uint8Array | undefined;
let retention = DEFAULT_RETENTION_DAYS;
let advInterval = 250;
let boardCode = 0;
let tx = 0;
let rssiFloor = -100;
let period = 240000;
let window = 1000;
let lowBattery = 15;
let enPacket: Uint8Array | undefined;
let discPacket: Uint8Array | undefined;
let connected = false;
let scanning = false;
/** Between an old identity and its successor: the radio is asleep, nothing goes out. */
let quiet = false;
/**
 * A rotation owed to a connected central: 1 when it is to follow the link's end (a kiosk set the clock), 2 when it
 * came due meanwhile and the central has its grace (rotate() ends the link when that runs out).
 */
let rotateDue = 0;
let rotateTimer: unknown;
let discoveryTimer: unknown;
let lastExpire = 0;
/** Uptime at the end of the last scan window (or at boot): the watchdog is kicked only while windows keep ending. */
let lastScan = 0;
let lowBat = false;
/** Retries of a window the stack refused to start, so far (scanEnd). */
let scanRetries = 0;

/** Log time: Unix seconds with a valid clock, else seconds of uptime (monotonic segments). */
function logTime(): number {
  const n = prov ? state.now() : -1;
  return floor(n >= 0 ? n : p.uptime());
}

function newSegment(): void {
  log.startSegment(logTime(), state.now() < 0, state.powerOnEpoch());
}

function batteryLow(): boolean {
  return radio.batteryPercent() < lowBattery;
}

/**
 * The steady advert: Exposure Notification with a valid clock; otherwise (no time, or unprovisioned) only the
 * discovery advert, slowly, so that a kiosk can still find the band and set its clock.
 */
function advertise(): void {
  if (!quiet) putAdvert();
}

/** The steady advert to the stack, also while asleep (it keeps it until `wake`). */
function putAdvert(): void {
  if (enPacket) radio.advertise(enPacket, advInterval, false);
  else if (!connected && discPacket) radio.advertise(discPacket, DISCOVERY_IDLE_INTERVAL_MS, true);
}

/**
 * Rotation, in two runs of the duty (docs/protocol.md section 2). The first silences the old identity, on time (with
 * valid time at an interval boundary, where the other bands in range rotate too). A central connected then gets
 * ROTATE_GRACE_MS to finish, then is let go with the old identity (the address cannot change under a connection; a
 * kiosk reconnects to the new identity and resumes from its cursors): no peer can hold the band on one address. The
 * second run, after a random quiet (identity/rotation.ts quietMs), puts the new identity on air: address, GAP name
 * and advert together, the discovery rhythm at a fresh random phase.
 */
function rotate(): void {
  timers.cancel(rotateTimer);
  // A retry is set first: a fault below (crypto, the radio) costs one try, not every later rotation: a minute with
  // the old identity on air, or a second of silence (and a new quiet) for the new one.
  rotateTimer = timers.after(rotate, quiet ? ROTATE_QUIET_MIN_MS : ROTATE_RETRY_MS);
  const now = prov ? state.now() : -1;
  if (!quiet) {
    if (connected && rotateDue < 2) {
      // The rotation follows the disconnect (onDisconnect), or the grace's end.
      rotateDue = 2;
      timers.cancel(rotateTimer);
      rotateTimer = timers.after(rotate, ROTATE_GRACE_MS);
      return;
    }
    const ms = quietMs(now, p.rand32);
    radio.sleep();
    quiet = true;
    timers.cancel(rotateTimer);
    rotateTimer = timers.after(rotate, ms);
    return;
  }
  // The link the sleep ended has not closed yet (it takes a connection event or two): the retry comes back.
  if (connected) return;
  rotateDue = 0;
  const id = rotateIdentity(c, keys.keysFor, now, tx, syncKey, p.rand32);
  enPacket = id.en;
  discPacket = id.disc;
  // Asleep, the stack only keeps the advert; wake() brings address, name and advert up together. The band is quiet
  // until both went through: a fault in either leaves the radio asleep, and the retry (a second) comes back here
  // with a fresh identity, not to the old identity's step a minute later with no burst on air meanwhile.
  putAdvert();
  radio.wake(id.address, id.name);
  quiet = false;
  // On air: the next rotation replaces the retry.
  timers.cancel(rotateTimer);
  rotateTimer = timers.after(rotate, id.nextMs);
  // Discovery bursts start again at a random phase: the old identity's rhythm does not carry over.
  timers.cancel(discoveryTimer);
  discoveryTimer = timers.after(discovery, Math.random() * (DISCOVERY_PERIOD_MS + DISCOVERY_JITTER_MS));
  // The address restarted the stack, which resets scan parameters: re-apply an open scan window.
  if (scanning) radio.scan(sightDevice);
}

function endBurst(): void {
  if (!connected) advertise();
}

/**
 * A short connectable burst of the discovery advert, so that a kiosk can find and connect to the band. It also kicks
 * the watchdog, but only while the other duties run: scan windows end on time and a rotation is pending.
 */
function discovery(): void {
  // Randomised period: bursts every 4-6 s (set first, like every duty's next run; Math.random, seeded from the
  // hardware RNG, so that a failing hardware RNG cannot stop the duty).
  discoveryTimer = timers.after(discovery, DISCOVERY_PERIOD_MS + Math.random() * DISCOVERY_JITTER_MS);
  if (!prov || (p.uptime() - lastScan < (3 * period) / 1000 && (rotateTimer || rotateDue || connected))) p.kick();
  if (!connected && !quiet && discPacket) {
    timers.after(endBurst, DISCOVERY_BURST_MS);
    radio.advertise(discPacket, DISCOVERY_INTERVAL_MS, true);
  }
}

/**
 * A finished encounter goes to the log if its mean RSSI reached the floor of its advertiser's class: neighbours
 * through a wall or across a hall cost 12 bytes each per rotation of a small flash budget and are not contacts.
 * Phones transmit ~12 dB weaker than bands (GAEN calibrations around -20 dBm against -4..-8 for the boards), so
 * their floor is lower; bands (random static addresses) get the floor BAND_FLOOR_ABOVE_PHONE_DB higher, a few dB
 * inside the exposure threshold (docs/protocol.md section 4 says how it was chosen). (A radio never hears its own
 * adverts; a replay of the band's own RPI is logged like any sighting, and matching drops a band's own keys.)
 */
const emit: EmitFn = (kind, ids, off, first, last, rssiMean, aem) => {
  if (rssiMean >= (kind & FROM_STATIC ? rssiFloor + BAND_FLOOR_ABOVE_PHONE_DB : rssiFloor)) {
    log.add(kind, ids, off, first, last, rssiMean, aem);
  }
};

function flush(): void {
  table.flush(emit);
}

function scanStart(): void {
  timers.after(scanEnd, window);
  table.begin(logTime());
  radio.scan(sightDevice);
  scanning = true;
}

function scanEnd(): void {
  // The next window first (+-10% jitter so that bands that met once do not keep scanning in lockstep); the
  // battery is read last, for the window after it.
  // A window that did not scan is tried again soon, up to SCAN_RETRIES times: a scan that keeps failing backs off
  // to the period, and only a window that really scanned feeds the watchdog, so one that fails every time ends in
  // a reset.
  const pd = lowBat ? period * 2 : period;
  scanRetries = scanning || scanRetries >= SCAN_RETRIES ? 0 : scanRetries + 1;
  timers.after(scanStart, scanRetries ? SCAN_RETRY_MS : pd * (0.9 + Math.random() * 0.2));
  if (scanning) lastScan = p.uptime();
  scanning = false;
  table.endScan(emit);
  radio.scan(undefined);
  const n = state.now();
  if (n >= 0 && n - lastExpire >= EXPIRE_EVERY_S) {
    // Retention: whole log files past the retention period go, at most once an hour.
    lastExpire = n;
    log.expire(n - retention * DAY_S);
  }
  lowBat = batteryLow();
  state.saveFaults();
}

function status(): Uint8Array {
  const st = log.stats();
  const n = state.now();
  const flags =
    (n >= 0 ? STATUS_FLAG_TIME_VALID : 0) |
    ((prov as Uint8Array)[PROV_MODE] === MODE_ESCROW ? STATUS_FLAG_ESCROW : 0) |
    (lowBat ? STATUS_FLAG_LOW_BATTERY : 0) |
    (st[2] ? STATUS_FLAG_LOG_DROPPED_UNSYNCED : 0);
  return encodeStatusFields([
    FIRMWARE_VERSION,
    boardCode,
    radio.batteryPercent(),
    flags,
    n < 0 ? 0 : floor(n),
    p.uptime() | 0,
    state.powerOnEpoch(),
    retention,
    state.driftPpm(),
    log.cursorStart(),
    log.cursorEnd(),
    state.syncCursor(),
    log.oldestTime(),
    faults[0],
    st[0], // at most logBudgetBytes / 12 units: below 65536 on every board
    faults[1],
    faults[2] > 255 ? 255 : faults[2],
  ]);
}

function setTime(unix: number): Uint8Array {
  const hadTime = state.now() >= 0;
  // Open encounters are timed in the old base: close them into the old segment first.
  flush();
  const err = state.setTime(unix);
  newSegment();
  // Exposure Notification adverts start with a fresh address once the kiosk disconnects.
  if (!hadTime && !rotateDue) rotateDue = 1;
  const r = newBytes(8);
  // Halves up in Espruino as in V8 (Math.round differs for negative halves).
  writeU32LE(r, 0, err === null ? 0x7fffffff : Math.floor(err + 0.5));
  writeU32LE(r, 4, state.driftPpm());
  return r;
}

function wipe(flags: number): void {
  table.clear();
  log.clear();
  state.wipe();
  // Flags bit 0: the identity goes too.
  if (flags & 1) p.flash.erase(PROVISIONING_FILE);
  // Erasing only marks the files deleted: compaction erases their bytes (keys, secrets, others' ids) from flash.
  p.flash.compact();
  // Start again from the wiped flash once WIPE_OK has gone out.
  timers.after(radio.reboot, 1500);
}

/**
 * Boot: read the provisioning record, recover state and log, start rotating, scanning and discovery. The board's
 * constants (a BandConfig's fields, in its order) come as arguments rather than an object: the bundle would
 * otherwise carry every property name twice.
 */
export function start(
  crypto: CryptoPrims,
  platform: Platform,
  r: Radio,
  t: Timers,
  boardCodeOfBoard: number,
  mtu: number,
  logBudgetBytes: number,
  advertisingIntervalMs: number,
  calibratedTxDbm: number,
  tableRows: number,
): boolean {
  c = crypto;
  p = platform;
  radio = r;
  timers = t;
  const raw = p.flash.read(PROVISIONING_FILE, 0, PROVISIONING_BYTES);
  prov = raw && provisioningValid(raw) ? raw : undefined;
  // Deployment settings the provisioning record leaves at 0 (or a missing record) take the firmware defaults.
  const pv = prov || newBytes(PROVISIONING_BYTES);
  syncKey = prov && pv.subarray(PROV_SYNC_KEY, PROV_SYNC_KEY + 16);
  retention = pv[PROV_RETENTION] || DEFAULT_RETENTION_DAYS;
  advInterval = advertisingIntervalMs;
  boardCode = boardCodeOfBoard;
  tx = !prov || pv[PROV_TX] === TX_FROM_BOARD ? calibratedTxDbm : readI8(pv, PROV_TX);
  rssiFloor = readI8(pv, PROV_RSSI_FLOOR) || DEFAULT_RSSI_FLOOR_DBM;
  period = (readU16LE(pv, PROV_SCAN_PERIOD) || DEFAULT_SCAN_PERIOD_S) * 1000;
  window = readU16LE(pv, PROV_SCAN_WINDOW) || DEFAULT_SCAN_WINDOW_MS;
  lowBattery = pv[PROV_LOW_BATTERY] || DEFAULT_LOW_BATTERY_PERCENT;
  enPacket = discPacket = rotateTimer = discoveryTimer = undefined;
  connected = scanning = false;
  rotateDue = 0;
  // Espruino has advertised its default advert (the board's name and factory address) since power-on: silence it
  // before anything slow (log recovery); the first identity comes up at the end.
  r.sleep();
  quiet = true;
  lastExpire = 0;
  lastScan = p.uptime();
  // Duties in fault-code order (faults.ts; docs/protocol.md STATUS): 1 scan start ... 8 sync watch.
  // (Espruino refuses `length = 0` on a const array: "Assignment to a constant".)
  duties.splice(0, duties.length);
  duties.push(scanStart, scanEnd, rotate, discovery, endBurst, sightDevice);
  lowBat = false;
  scanRetries = 0;
  table.init(tableRows);
  log.init(p.flash, logBudgetBytes);
  sync.init(c, syncKey, { status: status, setTime: setTime, flush: flush, wipe: wipe }, r, t, p, mtu);
  if (prov) {
    sync.setLogKey(
      prov.subarray(PROV_BAND_SECRET, PROV_BAND_SECRET + 16),
      prov.subarray(PROV_BAND_ID, PROV_BAND_ID + 8),
    );
    state.boot(
      p,
      c,
      prov[PROV_MODE] === MODE_ESCROW ? prov.subarray(PROV_BAND_SECRET, PROV_BAND_SECRET + 16) : undefined,
      retention,
      prov[PROV_FLAGS] & PROV_FLAG_CLOCK_SET_BY_FLASHER ? readU32LE(prov, PROV_AT) : 0,
    );
    log.recover();
    log.setSyncCursor(state.syncCursor());
    newSegment();
    timers.after(scanStart, 2000 + Math.random() * 5000);
  }
  discovery();
  // The rotation's second run: the first identity on air (and discovery at a random phase).
  rotate();
  return prov !== undefined;
}

export function onConnect(): void {
  connected = true;
  sync.connect();
  // Kiosks connect during a discovery burst, whose advert stops with the connection: Exposure Notification adverts
  // go on while it lasts.
  advertise();
}

export function onDisconnect(): void {
  connected = false;
  // The console a kiosk turned on came up with a stack restart, which woke the radio: a quiet stays quiet.
  if (sync.disconnect() && quiet) radio.sleep();
  // A rotation waited for this central (its grace), or a kiosk that set the clock leaves (Exposure Notification
  // adverts start with a new identity). A rotation under way, whose sleep ended this link, goes on by its timer.
  if (rotateDue && !quiet) rotate();
  else advertise();
}

export { write as onWrite } from "./sync/sync-service";

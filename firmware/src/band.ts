import { Platform, Radio, ScanDevice, Timers } from "./hw/types";
import { DayKeys, rotateIdentity } from "./identity/rotation";
import { createEncounterLog } from "./log/encounter-log";
import { encodeEnAdvert } from "./protocol/advert";
import { writeU32LE } from "./protocol/bytes";
import { CryptoPrims } from "./protocol/crypto";
import { PROVISIONING_BYTES, PROVISIONING_FILE, readProvisioning, TX_FROM_BOARD } from "./protocol/provisioning";
import {
  encodeDiscoveryAdvert,
  encodeStatusFields,
  STATUS_FLAG_ESCROW,
  STATUS_FLAG_LOG_DROPPED_UNSYNCED,
  STATUS_FLAG_LOW_BATTERY,
  STATUS_FLAG_TIME_VALID,
} from "./protocol/sync";
import { createEncounterTable, EmitFn } from "./scan/encounter-table";
import { sightDevice } from "./scan/sightings";
import { BandState, CLOCK_SOURCE_KIOSK, createBandState } from "./state/band-state";
import { createSyncService } from "./sync/sync-service";

/** Board constants and deployment defaults (main.ts fills them from the build's injected constants). */
export interface BandConfig {
  boardCode: number;
  firmwareVersion: number;
  mtu: number;
  logBudgetBytes: number;
  advertisingIntervalMs: number;
  calibratedTxDbm: number;
  scanPeriodS: number;
  scanWindowMs: number;
  rssiFloorDbm: number;
  lowBatteryPercent: number;
  /** Rows of the encounter table: the most distinct ids one scan can hold. */
  tableRows: number;
  /** Discovery bursts: every period (+ up to `discoveryJitterMs`), connectable for `discoveryBurstMs`. */
  discoveryPeriodMs: number;
  discoveryJitterMs: number;
  discoveryBurstMs: number;
  discoveryIntervalMs: number;
}

export interface Band {
  /** True when a valid provisioning record was found. */
  provisioned: boolean;
  /** Boot: recover state and log, start rotating, scanning and discovery. */
  start(): void;
  onConnect(): void;
  onDisconnect(): void;
  onWrite(data: Uint8Array): void;
  /** Once a second while connected: drops peers that do not authenticate or idle. */
  check(): void;
}

const DAY_S = 86400;
/** Retention is applied at most this often. */
const EXPIRE_EVERY_S = 3600;

/**
 * The band: wires state, keys, identity rotation, scanning, the log and the sync service to a radio, a flash and
 * timers. No Espruino globals here (hw/espruino.ts supplies them), so it runs under jest as well as on the band.
 */
export function createBand(cfg: BandConfig, c: CryptoPrims, p: Platform, radio: Radio, timers: Timers): Band {
  const raw = p.flash.read(PROVISIONING_FILE, 0, PROVISIONING_BYTES);
  const prov = raw ? readProvisioning(raw) : undefined;
  const tx = prov && prov.txCalibrationDbm !== TX_FROM_BOARD ? prov.txCalibrationDbm : cfg.calibratedTxDbm;
  const floor = prov && prov.rssiFloorDbm ? prov.rssiFloorDbm : cfg.rssiFloorDbm;
  const period = (prov && prov.scanPeriodS ? prov.scanPeriodS : cfg.scanPeriodS) * 1000;
  const window = prov && prov.scanWindowMs ? prov.scanWindowMs : cfg.scanWindowMs;
  const lowBattery = prov && prov.lowBatteryPercent ? prov.lowBatteryPercent : cfg.lowBatteryPercent;
  const log = createEncounterLog(p.flash, cfg.logBudgetBytes);
  const table = createEncounterTable(cfg.tableRows);
  const state: BandState | undefined = prov ? createBandState(p, c, prov) : undefined;
  const noKeys: DayKeys = () => {
    return [];
  };
  /** Own current RPI prefix, so that the band never logs itself. */
  const own = new Uint8Array(8);
  let enPacket: Uint8Array | undefined;
  let discPacket: Uint8Array | undefined;
  let connected = false;
  let scanning = false;
  let rotateDue = false;
  let rotateTimer: unknown;
  let lastExpire = 0;

  function now(): number {
    return state ? state.now() : -1;
  }

  /** Log time: Unix seconds with a valid clock, else seconds of uptime (monotonic segments). */
  function logTime(): number {
    const n = now();
    return Math.floor(n >= 0 ? n : p.uptime());
  }

  function newSegment(): void {
    if (state) log.startSegment(logTime(), now() < 0, state.epoch());
  }

  function batteryLow(): boolean {
    return radio.batteryPercent() < lowBattery;
  }

  /** The steady advert: Exposure Notification when the clock is valid, otherwise nothing between bursts. */
  function advertise(): void {
    if (enPacket) radio.advertise(enPacket, cfg.advertisingIntervalMs, false);
    else if (!connected) radio.stopAdvertising();
  }

  function onDevice(d: ScanDevice): void {
    sightDevice(table, d);
  }

  function rotate(): void {
    timers.cancel(rotateTimer);
    rotateTimer = undefined;
    if (connected) {
      // The address cannot change under a connection: rotate as soon as the central leaves.
      rotateDue = true;
      return;
    }
    rotateDue = false;
    const id = rotateIdentity(
      c,
      state ? state.keys.keysFor : noKeys,
      now(),
      tx,
      prov ? prov.syncKey : undefined,
      p.rand32,
    );
    enPacket = id.rpi && id.aem ? encodeEnAdvert(id.rpi, id.aem) : undefined;
    if (id.rpi) own.set(id.rpi.subarray(0, 8));
    discPacket = encodeDiscoveryAdvert(id.nonce, id.token);
    radio.setAddress(id.address);
    advertise();
    // setAddress restarts the stack and resets scan parameters: re-apply an open scan window.
    if (scanning) radio.scan(onDevice);
    rotateTimer = timers.after(rotate, id.nextMs);
  }

  function endBurst(): void {
    if (!connected) advertise();
  }

  /** A short connectable burst of the discovery advert, so that a kiosk can find and connect to the band. */
  function discovery(): void {
    if (!connected && discPacket) {
      radio.advertise(discPacket, cfg.discoveryIntervalMs, true);
      timers.after(endBurst, cfg.discoveryBurstMs);
    }
    timers.after(discovery, cfg.discoveryPeriodMs + (p.rand32() % (cfg.discoveryJitterMs + 1)));
  }

  const emit: EmitFn = (kind, ids, off, first, last, scans, rssiMax, rssiMean, aem) => {
    if (rssiMax < floor) return;
    let self = kind === 0;
    for (let k = 0; self && k < 8; k++) if (ids[off + k] !== own[k]) self = false;
    if (!self) log.add(kind, ids, off, first, last, scans, rssiMax, rssiMean, aem);
  };

  function flush(): void {
    table.flush(emit);
  }

  function scanStart(): void {
    table.begin(logTime());
    scanning = true;
    radio.scan(onDevice);
    timers.after(scanEnd, window);
  }

  function scanEnd(): void {
    radio.scan(undefined);
    scanning = false;
    table.endScan(emit);
    const n = now();
    if (state && n >= 0 && n - lastExpire >= EXPIRE_EVERY_S) {
      // Retention: whole log files past the retention period go, at most once an hour.
      lastExpire = n;
      log.expire(n - (prov as { retentionDays: number }).retentionDays * DAY_S);
    }
    const pd = batteryLow() ? period * 2 : period;
    // +-10% jitter so that bands that met once do not keep scanning in lockstep.
    timers.after(scanStart, pd * 0.9 + (p.rand32() % Math.floor(pd * 0.2 + 1)));
  }

  const sync = createSyncService(
    c,
    prov ? prov.syncKey : undefined,
    {
      status() {
        const s = state as BandState;
        const st = log.stats();
        const n = now();
        let flags = 0;
        if (n >= 0) flags |= STATUS_FLAG_TIME_VALID;
        if (prov && prov.mode === "escrow") flags |= STATUS_FLAG_ESCROW;
        if (batteryLow()) flags |= STATUS_FLAG_LOW_BATTERY;
        if (st[2]) flags |= STATUS_FLAG_LOG_DROPPED_UNSYNCED;
        return encodeStatusFields([
          cfg.firmwareVersion,
          cfg.boardCode,
          radio.batteryPercent(),
          flags,
          n < 0 ? 0 : Math.floor(n),
          Math.floor(p.uptime()),
          s.epoch(),
          (prov as { retentionDays: number }).retentionDays,
          s.drift(),
          log.cursorStart(),
          log.cursorEnd(),
          s.cursor(),
          log.oldestTime(),
          radio.batteryMv(),
          st[0] > 65535 ? 65535 : st[0],
        ]);
      },
      setTime(unix) {
        const s = state as BandState;
        const hadTime = now() >= 0;
        // Open encounters are timed in the old base: close them into the old segment first.
        flush();
        const err = s.setTime(unix, CLOCK_SOURCE_KIOSK);
        newSegment();
        // Exposure Notification adverts start with a fresh address once the kiosk disconnects.
        if (!hadTime) rotateDue = true;
        const r = new Uint8Array(8);
        writeU32LE(r, 0, err === null ? 0x7fffffff : Math.round(err));
        writeU32LE(r, 4, s.drift());
        return r;
      },
      teks() {
        const s = state as BandState;
        return s.keys.list(s.today(), (prov as { retentionDays: number }).retentionDays);
      },
      flush: flush,
      ack(cursor) {
        const s = state as BandState;
        const end = log.cursorEnd();
        s.setCursor(cursor < end ? cursor : end);
        log.setSyncCursor(s.cursor());
        return s.cursor();
      },
      wipe(flags) {
        table.clear();
        log.clear();
        if (state) state.wipe();
        if (flags & 1) p.flash.erase(PROVISIONING_FILE);
        // Start again from the wiped flash once WIPE_OK has gone out.
        timers.after(radio.reboot, 1500);
      },
      read: log.read,
      headerFor: log.headerFor,
    },
    {
      notify: radio.notify,
      disconnect: radio.disconnect,
      later: timers.after,
    },
    cfg.mtu,
    p.uptime,
    p.rand32,
  );

  return {
    provisioned: prov !== undefined,
    start() {
      if (state) {
        state.boot();
        log.recover();
        log.setSyncCursor(state.cursor());
        newSegment();
        timers.after(scanStart, 2000 + (p.rand32() % 5000));
      }
      rotate();
      discovery();
    },
    onConnect() {
      connected = true;
      sync.connect();
    },
    onDisconnect() {
      connected = false;
      sync.disconnect();
      if (rotateDue) rotate();
      else advertise();
    },
    onWrite: sync.write,
    check: sync.check,
  };
}

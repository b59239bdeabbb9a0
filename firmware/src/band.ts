import { Platform, Radio, ScanDevice, Timers } from "./hw/types";
import { Identity, rotateIdentity } from "./identity/rotation";
import { EncounterLog } from "./log/encounter-log";
import { encodeEnAdvert } from "./protocol/advert";
import { writeU32LE } from "./protocol/bytes";
import { CryptoPrims } from "./protocol/crypto";
import {
  decodeProvisioning,
  PROVISIONING_BYTES,
  PROVISIONING_FILE,
  Provisioning,
  TX_FROM_BOARD,
} from "./protocol/provisioning";
import {
  encodeDiscoveryAdvert,
  encodeStatus,
  STATUS_FLAG_ESCROW,
  STATUS_FLAG_LOG_DROPPED_UNSYNCED,
  STATUS_FLAG_LOW_BATTERY,
  STATUS_FLAG_TIME_VALID,
  TekEntry,
} from "./protocol/sync";
import { EncounterTable } from "./scan/encounter-table";
import { sightDevice } from "./scan/sightings";
import { BandState, CLOCK_SOURCE_KIOSK } from "./state/band-state";
import { SyncBand, SyncService } from "./sync/sync-service";

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

const DAY_S = 86400;
/** Retention is applied at most this often. */
const EXPIRE_EVERY_S = 3600;

/**
 * The band: wires state, keys, identity rotation, scanning, the log and the sync service to a radio, a flash and
 * timers. No Espruino globals here (hw/espruino.ts supplies them), so it runs under jest as well as on the band.
 */
export class Band implements SyncBand {
  prov: Provisioning | undefined;
  state: BandState | undefined;
  log: EncounterLog;
  table: EncounterTable;
  sync: SyncService;
  id: Identity | undefined;
  enPacket: Uint8Array | undefined;
  discPacket: Uint8Array | undefined;
  connected = false;
  scanning = false;
  rotateDue = false;
  rotateTimer: unknown;
  lastExpire = 0;
  /** Own current RPI, so that the band never logs itself. */
  own = new Uint8Array(8);
  tx: number;
  floor: number;
  period: number;
  window: number;
  lowBattery: number;

  constructor(
    public cfg: BandConfig,
    public c: CryptoPrims,
    public p: Platform,
    public radio: Radio,
    public timers: Timers,
  ) {
    const raw = p.flash.read(PROVISIONING_FILE, 0, PROVISIONING_BYTES);
    const d = raw ? decodeProvisioning(raw) : undefined;
    const pr = d && d.ok ? d.value : undefined;
    this.prov = pr;
    this.tx = pr && pr.txCalibrationDbm !== TX_FROM_BOARD ? pr.txCalibrationDbm : cfg.calibratedTxDbm;
    this.floor = pr && pr.rssiFloorDbm ? pr.rssiFloorDbm : cfg.rssiFloorDbm;
    this.period = pr && pr.scanPeriodS ? pr.scanPeriodS : cfg.scanPeriodS;
    this.window = pr && pr.scanWindowMs ? pr.scanWindowMs : cfg.scanWindowMs;
    this.lowBattery = pr && pr.lowBatteryPercent ? pr.lowBatteryPercent : cfg.lowBatteryPercent;
    this.log = new EncounterLog(p.flash, cfg.logBudgetBytes);
    this.table = new EncounterTable(cfg.tableRows);
    this.sync = new SyncService(
      c,
      pr ? pr.syncKey : undefined,
      this,
      {
        notify: (f) => radio.notify(f),
        disconnect: () => radio.disconnect(),
        later: (fn, ms) => timers.after(fn, ms),
      },
      cfg.mtu,
      p.uptime,
      p.rand32,
    );
  }

  /** Boot: recover state and log, start rotating, scanning and discovery. */
  start(): void {
    if (this.prov) {
      const s = new BandState(this.p, this.c, this.prov);
      this.state = s;
      s.boot();
      this.log.recover();
      this.log.syncCursor = s.cursor;
      this.newSegment();
      this.timers.after(() => this.scanStart(), 2000 + (this.p.rand32() % 5000));
    }
    this.rotate();
    this.discovery();
  }

  // ------------------------------------------------------------------------------------------ time

  /** Log time: Unix seconds with a valid clock, else seconds of uptime (monotonic segments). */
  logTime(): number {
    const s = this.state;
    return Math.floor(s && s.clock.valid ? s.now() : this.p.uptime());
  }

  newSegment(): void {
    const s = this.state as BandState;
    this.log.startSegment(this.logTime(), !s.clock.valid, s.epoch);
  }

  // ------------------------------------------------------------------------------------------ advertising

  rotate(): void {
    this.timers.cancel(this.rotateTimer);
    if (this.connected) {
      // The address cannot change under a connection: rotate as soon as the central leaves.
      this.rotateDue = true;
      return;
    }
    this.rotateDue = false;
    const s = this.state;
    const id = rotateIdentity(
      this.c,
      s ? s.keys : { rpik: this.own, aemk: this.own, use: function () {} },
      s ? s.now() : -1,
      this.tx,
      this.prov ? this.prov.syncKey : undefined,
      this.p.rand32,
    );
    this.id = id;
    this.enPacket = id.rpi && id.aem ? encodeEnAdvert(id.rpi, id.aem) : undefined;
    if (id.rpi) this.own.set(id.rpi.subarray(0, 8));
    this.discPacket = encodeDiscoveryAdvert(id.nonce, id.token);
    this.radio.setAddress(id.address);
    this.advertise();
    // setAddress restarts the stack and resets scan parameters: re-apply an open scan window.
    if (this.scanning) this.radio.scan((d) => this.onDevice(d));
    this.rotateTimer = this.timers.after(() => this.rotate(), id.nextMs);
  }

  /** The steady advert: Exposure Notification when the clock is valid, otherwise nothing between bursts. */
  advertise(): void {
    if (this.enPacket) this.radio.advertise(this.enPacket, this.cfg.advertisingIntervalMs, false);
    else this.radio.stopAdvertising();
  }

  /** A short connectable burst of the discovery advert, so a kiosk can find and connect to the band. */
  discovery(): void {
    const cfg = this.cfg;
    if (!this.connected && this.discPacket) {
      this.radio.advertise(this.discPacket, cfg.discoveryIntervalMs, true);
      this.timers.after(() => {
        if (!this.connected) this.advertise();
      }, cfg.discoveryBurstMs);
    }
    this.timers.after(() => this.discovery(), cfg.discoveryPeriodMs + (this.p.rand32() % (cfg.discoveryJitterMs + 1)));
  }

  // ------------------------------------------------------------------------------------------ scanning

  onDevice(d: ScanDevice): void {
    sightDevice(this.table, d);
  }

  scanStart(): void {
    this.table.now = this.logTime();
    this.scanning = true;
    this.radio.scan((d) => this.onDevice(d));
    this.timers.after(() => this.scanEnd(), this.window);
  }

  scanEnd(): void {
    this.radio.scan(undefined);
    this.scanning = false;
    this.table.endScan((t, i) => this.emit(t, i));
    this.maintain();
    let period = this.period * 1000;
    if (this.batteryLow()) period *= 2;
    // +-10% jitter so that bands that met once do not keep scanning in lockstep.
    period = period * 0.9 + (this.p.rand32() % Math.floor(period * 0.2 + 1));
    this.timers.after(() => this.scanStart(), period);
  }

  emit(t: EncounterTable, i: number): void {
    if (t.rmax[i] < this.floor) return;
    const o = i * 8;
    let self = t.kind[i] === 0;
    for (let k = 0; self && k < 8; k++) if (t.ids[o + k] !== this.own[k]) self = false;
    if (self) return;
    this.log.add(
      t.kind[i],
      t.ids.subarray(o, o + 8),
      t.first[i],
      t.last[i],
      t.scans[i],
      t.rmax[i],
      t.mean(i),
      t.aem[i],
    );
  }

  /** Retention: whole log files past the retention period go, at most once an hour. */
  maintain(): void {
    const s = this.state;
    if (!s || !s.clock.valid) return;
    const now = s.now();
    if (now - this.lastExpire < EXPIRE_EVERY_S) return;
    this.lastExpire = now;
    this.log.expire(now - s.retentionDays * DAY_S);
  }

  batteryLow(): boolean {
    return this.radio.batteryPercent() < this.lowBattery;
  }

  // ------------------------------------------------------------------------------------------ connections

  onConnect(): void {
    this.connected = true;
    this.advertise();
    this.sync.connect();
  }

  onDisconnect(): void {
    this.connected = false;
    this.sync.disconnect();
    if (this.rotateDue) this.rotate();
    else this.advertise();
  }

  onWrite(data: Uint8Array): void {
    this.sync.write(data);
  }

  // ------------------------------------------------------------------------------------------ SyncBand

  status(): Uint8Array {
    const s = this.state as BandState;
    const log = this.log;
    let flags = 0;
    if (s.clock.valid) flags |= STATUS_FLAG_TIME_VALID;
    if (this.prov && this.prov.mode === "escrow") flags |= STATUS_FLAG_ESCROW;
    if (this.batteryLow()) flags |= STATUS_FLAG_LOW_BATTERY;
    if (log.droppedUnsynced) flags |= STATUS_FLAG_LOG_DROPPED_UNSYNCED;
    const now = s.now();
    return encodeStatus({
      firmwareVersion: this.cfg.firmwareVersion,
      boardCode: this.cfg.boardCode,
      batteryPercent: this.radio.batteryPercent(),
      flags: flags,
      bandTime: now < 0 ? 0 : Math.floor(now),
      uptime: Math.floor(this.p.uptime()),
      bootEpoch: s.epoch & 255,
      retentionDays: s.retentionDays,
      driftPpm: s.clock.drift,
      logStart: log.cursorStart(),
      logEnd: log.cursorEnd(),
      syncCursor: s.cursor,
      oldestTime: log.oldestTime(),
      batteryMv: this.radio.batteryMv(),
      records: log.records > 65535 ? 65535 : log.records,
    });
  }

  setTime(unix: number): Uint8Array {
    const s = this.state as BandState;
    const hadTime = s.clock.valid;
    // Open encounters are timed in the old base: close them into the old segment first.
    this.flush();
    const err = s.setTime(unix, CLOCK_SOURCE_KIOSK);
    this.newSegment();
    if (!hadTime) this.rotateDue = true;
    const p = new Uint8Array(8);
    writeU32LE(p, 0, err === null ? 0x7fffffff : Math.round(err));
    writeU32LE(p, 4, s.clock.drift);
    return p;
  }

  teks(): TekEntry[] {
    const s = this.state as BandState;
    return s.keys.list(s.today(), s.retentionDays);
  }

  flush(): void {
    this.table.flush((t, i) => this.emit(t, i));
  }

  ack(cursor: number): number {
    const s = this.state as BandState;
    const end = this.log.cursorEnd();
    s.setCursor(cursor < end ? cursor : end);
    this.log.syncCursor = s.cursor;
    return s.cursor;
  }

  wipe(flags: number): void {
    this.table.n = 0;
    this.log.clear();
    if (this.state) this.state.wipe();
    if (flags & 1) this.p.flash.erase(PROVISIONING_FILE);
    // Start again from the wiped flash once WIPE_OK has gone out.
    this.timers.after(() => this.radio.reboot(), 1500);
  }

  read(cursor: number, max: number): { cursor: number; bytes: Uint8Array } | undefined {
    return this.log.read(cursor, max);
  }

  headerFor(cursor: number): number {
    return this.log.headerFor(cursor);
  }

  hasFrom(cursor: number): boolean {
    return this.log.locate(cursor) !== undefined;
  }
}

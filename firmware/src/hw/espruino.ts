import { CryptoPrims } from "../protocol/crypto";
import { aes128Ecb } from "../protocol/aes128";
import { sha256 } from "../protocol/sha256";
import {
  SYNC_CONTROL_UUID,
  SYNC_RESPONSE_UUID,
  SYNC_SERVICE_UUID,
  SYNC_STATUS_UUID,
  encodePublicStatus,
} from "../protocol/sync";
import { Flash, Platform, Radio, ScanDevice, Timers } from "./types";

/**
 * The only file that touches Espruino's globals (NRF, E, require("Storage"), require("crypto"), getTime,
 * setTimeout). Everything it hands out is guarded: nothing thrown below reaches the interpreter's callback loop.
 */

/** Counts exceptions caught at the callback boundary (reported in dev builds). */
export let faults = 0;

/** Wraps a callback so that no exception escapes it. */
export function guard<A>(fn: (a: A) => void): (a: A) => void {
  return (a: A) => {
    try {
      fn(a);
    } catch (e) {
      faults++;
      if (__DEV__) console.log("tracelet fault:", e);
    }
  };
}

function toBytes(s: string | undefined): Uint8Array | undefined {
  if (s === undefined) return undefined;
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

// Espruino modules are loaded with require(); there is no import form on the interpreter.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S = require("Storage");

export const flash: Flash = {
  read(name, offset, length) {
    try {
      return toBytes(S.read(name, offset, length));
    } catch {
      return undefined;
    }
  },
  write(name, data, offset, size) {
    try {
      return size === undefined ? S.write(name, data, offset) !== false : S.write(name, data, offset, size) !== false;
    } catch {
      return false;
    }
  },
  erase(name) {
    try {
      S.erase(name);
    } catch {
      // nothing to erase
    }
  },
  compact() {
    try {
      S.compact();
    } catch {
      // compaction is best effort
    }
  },
};

export const platform: Platform = {
  uptime() {
    return getTime();
  },
  rand32() {
    return E.hwRand() >>> 0;
  },
  flash: flash,
};

/** Native SHA-256 / AES-ECB where the board has them (build constants from its profile), pure JS otherwise. */
export function boardCrypto(): CryptoPrims {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const native = __CRYPTO_SHA256__ || __CRYPTO_AES_ECB__ ? require("crypto") : (undefined as never);
  return {
    sha256: __CRYPTO_SHA256__
      ? (d: Uint8Array) => {
          return new Uint8Array(native.SHA256(d));
        }
      : sha256,
    aesEcb: __CRYPTO_AES_ECB__
      ? (key: Uint8Array, block: Uint8Array) => {
          return new Uint8Array(native.AES.encrypt(block, key, { mode: "ECB" }));
        }
      : aes128Ecb,
  };
}

export const timers: Timers = {
  after(fn, ms) {
    return setTimeout(guard(fn), ms);
  },
  cancel(h) {
    // clearTimeout() without an argument clears every timer on Espruino: never pass undefined.
    if (h === undefined) return;
    try {
      clearTimeout(h as number);
    } catch {
      // already fired
    }
  },
};

/** True after NRF.sleep(): advertising is off until NRF.wake(). */
let asleep = false;

function scanFilters() {
  return [{ serviceData: { fd6f: {} } }, { manufacturerData: { 8885: {} } }];
}

export const radio: Radio = {
  setAddress(a) {
    NRF.setAddress(a);
  },
  advertise(packet, intervalMs, connectable) {
    if (asleep) {
      asleep = false;
      NRF.wake();
    }
    NRF.setAdvertising(packet, {
      interval: intervalMs,
      connectable: connectable,
      scannable: false,
      showName: false,
      manufacturer: false,
      whenConnected: !connectable,
    });
  },
  // NRF.sleep() also drops a connection: the band only calls this when nothing is connected.
  stopAdvertising() {
    if (!asleep) {
      asleep = true;
      NRF.sleep();
    }
  },
  scan(cb) {
    if (cb) NRF.setScan(guard(cb as (d: ScanDevice) => void), { filters: scanFilters(), active: false });
    else NRF.setScan();
  },
  notify(frame) {
    try {
      const u: { [uuid: string]: unknown } = {};
      u[SYNC_RESPONSE_UUID] = { value: frame, notify: true };
      const s: { [uuid: string]: unknown } = {};
      s[SYNC_SERVICE_UUID] = u;
      NRF.updateServices(s);
      return true;
    } catch {
      return false;
    }
  },
  disconnect() {
    try {
      NRF.disconnect();
    } catch {
      // not connected
    }
  },
  batteryPercent() {
    let p = 100;
    if (__BATTERY_READOUT__ === "E.getBattery") p = E.getBattery();
    else {
      const v = NRF.getBattery();
      p = ((v - __BATTERY_EMPTY_V__) / (__BATTERY_FULL_V__ - __BATTERY_EMPTY_V__)) * 100;
    }
    return p < 0 ? 0 : p > 100 ? 100 : Math.round(p);
  },
  batteryMv() {
    try {
      return Math.round(NRF.getBattery() * 1000);
    } catch {
      return 0;
    }
  },
  reboot() {
    E.reboot();
  },
};

/**
 * Defines the sync GATT service. Production builds remove the Nordic UART service, so nobody in range can reach
 * the JavaScript console; `--dev` builds keep it.
 */
export function setupServices(provisioned: boolean, maxLen: number, onWrite: (d: Uint8Array) => void): void {
  const chars: { [uuid: string]: unknown } = {};
  chars[SYNC_STATUS_UUID] = { value: encodePublicStatus(provisioned ? 1 : 0), readable: true };
  chars[SYNC_CONTROL_UUID] = {
    value: new Uint8Array(0),
    maxLen: maxLen,
    writable: true,
    onWrite: guard((evt: { data: ArrayBuffer }) => {
      onWrite(new Uint8Array(evt.data));
    }),
  };
  chars[SYNC_RESPONSE_UUID] = { value: new Uint8Array(0), maxLen: maxLen, readable: true, notify: true };
  const services: { [uuid: string]: unknown } = {};
  services[SYNC_SERVICE_UUID] = chars;
  NRF.setServices(services, { uart: __DEV__ });
}

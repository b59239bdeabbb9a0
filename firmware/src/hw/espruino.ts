import { fault, running } from "../faults";
import { aes128Ecb } from "../protocol/aes128";
import { CryptoPrims } from "../protocol/crypto";
import { sha256 } from "../protocol/sha256";
import { syncUuid } from "../protocol/sync";
import { Flash, Platform, Radio, Timers } from "./types";

/**
 * The only file that touches Espruino's globals (NRF, E, require("Storage"), require("crypto"), getTime,
 * setTimeout). Every callback it hands to the interpreter is guarded: nothing thrown below reaches the event loop.
 */

/** Wraps a callback so that no exception escapes it: a fault is counted with its duty (faults.ts); dev builds print it. */
export function guard<A>(fn: (a: A) => void): (a: A) => void {
  return (a: A) => {
    running(fn);
    try {
      fn(a);
    } catch (e) {
      fault(fn);
      if (__DEV__) console.log(e);
    }
  };
}

// Espruino modules are loaded with require(); there is no import form on the interpreter.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S = require("Storage");

export const flash: Flash = {
  read(name, offset, length) {
    // A memory-mapped string: E.toUint8Array copies the bytes out (the file may be erased while they are in use).
    const s = S.read(name, offset, length);
    return s === undefined ? undefined : E.toUint8Array(s);
  },
  write(name, data, offset, size) {
    // Storage throws "Unable to find or create file" when full; erased files' space comes back with compact().
    // A write that still fails, or a compaction that throws, is a fault of the duty that wrote (faults.ts).
    for (let tries = 0; tries < 2; tries++) {
      try {
        if (S.write(name, data, offset, size)) return true;
      } catch {
        // full (or a transient failure): compact and try once more
      }
      if (!size) break;
      try {
        S.compact();
      } catch {
        break;
      }
    }
    fault();
    return false;
  },
  erase(name) {
    S.erase(name);
  },
  compact() {
    // Storage.write refuses to write over written bytes (src/jsflash.c jsfWriteFile: "File already written with
    // different data"), so erased files cannot be zeroed in place: compaction erases their pages.
    // Storage.compact returns quietly when it lacks the RAM for its swap buffer: trash left behind is a fault too.
    try {
      S.compact();
      if (S.getStats().trashBytes) fault();
    } catch {
      fault();
    }
  },
};

export const platform: Platform = {
  uptime: getTime,
  rand32() {
    return E.hwRand() >>> 0;
  },
  flash: flash,
  kick: E.kickWatchdog,
};

/** Native SHA-256 / AES-ECB where the board has them (constants from its profile), pure JS otherwise. */
export function boardCrypto(): CryptoPrims {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const native = __CRYPTO_SHA256__ || __CRYPTO_AES_ECB__ ? require("crypto") : (undefined as never);
  return {
    sha256: __CRYPTO_SHA256__ ? (d: Uint8Array) => new Uint8Array(native.SHA256(d)) : sha256,
    aesEcb: __CRYPTO_AES_ECB__
      ? (key: Uint8Array, block: Uint8Array) => new Uint8Array(native.AES.encrypt(block, key, { mode: "ECB" }))
      : aes128Ecb,
  };
}

export const timers: Timers = {
  after(fn, ms) {
    return setTimeout(guard(fn), ms);
  },
  cancel(h) {
    // clearTimeout() without an argument clears every timer on Espruino: never pass undefined.
    if (h !== undefined) {
      try {
        clearTimeout(h as number);
      } catch {
        // already fired
      }
    }
  },
};

/** The notification update, built once: {service: {response characteristic: {value, notify}}}. */
const response: { value?: Uint8Array; notify: boolean } = { notify: true };
const update: { [uuid: string]: { [uuid: string]: unknown } } = {};
update[syncUuid(1)] = {};
update[syncUuid(1)][syncUuid(4)] = response;

/**
 * The advertising options, one object for every call: the stack keeps the last one (with the advert) and applies both
 * again after every restart (jswrap_ble_reconfigure_softdevice), the GAP device name among them.
 */
const adv: { interval?: number; connectable?: boolean; scannable?: boolean; whenConnected?: boolean; name?: string } =
  {};

export const radio: Radio = {
  advertise(packet, interval, connectable) {
    // A raw packet goes out as it is: the name sets the GAP device name (read on connect), never the payload. A
    // connectable advert must be scannable: connectable without scannable asks the SoftDevice for a directed advert,
    // which it refuses without a peer address (and which carries no payload). Exposure Notification adverts are
    // neither.
    adv.interval = interval;
    adv.connectable = adv.scannable = connectable;
    adv.whenConnected = !connectable;
    NRF.setAdvertising(packet, adv);
  },
  sleep() {
    NRF.sleep();
  },
  wake(address, name) {
    // The new name goes into the options the stack keeps with the new advert (stored only: asleep). setAddress
    // restarts the stack, which resets the name to the board's default, starts advertising what is stored from the
    // new address, and applies the stored options again (the new name). wake() for a stack that would stay asleep
    // through the restart; one already advertising is left as it is.
    adv.name = name;
    NRF.setAddress(address);
    NRF.wake();
  },
  scan(cb) {
    // The radio passes only Exposure Notification and (where logged) Bluezone adverts to JavaScript.
    if (cb) NRF.setScan(guard(cb), { filters: [{ serviceData: { fd6f: {} } }, { manufacturerData: { 8885: {} } }] });
    else NRF.setScan();
  },
  notify(frame) {
    response.value = frame;
    try {
      NRF.updateServices(update);
      return true;
    } catch {
      // refused (too long for the characteristic, services changed): the sync service ends the link
      return false;
    }
  },
  disconnect() {
    NRF.disconnect();
  },
  batteryPercent() {
    // E.getBattery() is already a percentage; a voltage read-out is scaled between the profile's empty and full.
    if (__BATTERY_READOUT__ === "E.getBattery") return E.getBattery();
    const p = ((NRF.getBattery() - __BATTERY_EMPTY_V__) / (__BATTERY_FULL_V__ - __BATTERY_EMPTY_V__)) * 100;
    return p < 0 ? 0 : p > 100 ? 100 : Math.round(p);
  },
  reboot() {
    E.reboot();
  },
  console() {
    // Changed services restart the stack (jswrap_ble_setServices); the console moves to Bluetooth when a central
    // connects, as the band never forces it elsewhere (targets/nrf5x/bluetooth.c, BLE_GAP_EVT_CONNECTED).
    try {
      NRF.setServices(services, { uart: true });
    } catch {
      fault();
    }
  },
};

/** The GATT services, kept for Radio.console. */
const services: { [uuid: string]: unknown } = {};

/**
 * Defines the sync GATT service. Production builds remove the Nordic UART service, so nobody in range can reach
 * the JavaScript console, once the band is provisioned (`open` false); `--dev` builds and unprovisioned bands (no
 * identity, no data yet: the flasher reaches them over Bluetooth) keep it. An authenticated kiosk can turn it on until the next restart
 * (sync CONSOLE, Radio.console): nothing stores that, so every boot starts here again.
 */
export function setupServices(maxLen: number, onWrite: (d: Uint8Array) => void, open: boolean): void {
  const chars: { [uuid: string]: unknown } = {};
  chars[syncUuid(3)] = {
    maxLen: maxLen,
    writable: true,
    onWrite: guard((evt: { data: ArrayBuffer }) => onWrite(new Uint8Array(evt.data))),
  };
  chars[syncUuid(4)] = { maxLen: maxLen, readable: true, notify: true };
  services[syncUuid(1)] = chars;
  NRF.setServices(services, { uart: __DEV__ || open });
}

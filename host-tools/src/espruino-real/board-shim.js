// Tracelet board shim: runs inside the real Espruino interpreter as .boot0, before the band's .bootcde.
// Espruino JavaScript (no destructuring, spread, Map/Set or hoisting). It stands in for what the Bangle.js 2
// emulator build lacks: the nRF52 Bluetooth stack (NRF: adverts, scans, GATT, address), AES-ECB in
// require("crypto"), E.hwRand's stream, the battery, E.reboot and the watchdog. It behaves as Espruino's
// targets/nrf5x/bluetooth.c and jswrap_bluetooth.c do (shared/ESPRUINO.md):
// - a connectable advert must be scannable (connectable && !scannable asks the SoftDevice for a directed advert
//   with no peer address, which it refuses); raw packets over 31 bytes are refused; non-connectable intervals
//   under 100 ms are clamped to 100 ms;
// - setScan while scanning keeps the settings of the scan already running;
// - setAddress restarts the stack (queued while connected, done at the disconnect): scan settings go back to the
//   defaults (the callback stays), the GAP device name to the board's default, the radio wakes (NRF.sleep does not
//   survive a restart) and advertises the advert it stores from the new address at once, then applies the stored
//   advert and options again (their name among them);
// - the GAP device name (read on connect) is the board's default (name prefix and the factory address's last 4 hex
//   digits) until setAdvertising's `name` option sets it; a raw advert never carries it;
// - sleep() stops advertising and disconnects; asleep, setAdvertising only stores the advert; wake() starts it;
// - while connected, only a non-connectable advert with whenConnected keeps going out;
// - setServices (jswrap_ble_setServices): `uart` defaults to true; services set before, or a change of the Nordic
//   UART, need a stack restart, which waits for the disconnect while connected (jswrap_ble_restart prints "BLE
//   Connected, queueing BLE restart for later"); until then updateServices throws "Can't update services until BLE
//   restart". A restart applies the pending UART state ("U" line).
// The host drives it through __T (scan reports, connections, writes) and reads "\x01" lines it prints: "A" what is on
// air after every change ("-": nothing), "D" an address set by a restart, "M" the GAP device name, "G" a setServices
// call, "U" the Nordic UART (console) service after a restart: 1 on, 0 off.
// __T_CFG (seed words, boot time, battery, default GAP name) is prepended by the host.
var __T = {
  c: __T_CFG,
  cb: undefined,
  scanOpts: undefined,
  onWrite: undefined,
  conn: false,
  addr: "",
  // The advert and options the stack stores (references, as Espruino keeps them), asleep, advertising while asleep
  // (whenConnected under a connection), an address waiting for the disconnect, the GAP device name.
  adv: undefined,
  ao: undefined,
  sleep: false,
  wc: false,
  pa: undefined,
  name: __T_CFG.name,
  // Services: set before (a change needs a restart), the UART as it is, as a restart will make it, a restart waiting.
  sv: false,
  uart: true,
  pu: true,
  rs: false,
  peak: 0,
  fail: {},
  faults: 0,
  wdt: 0,
  kick: 0,
};
__T.r = __T.c.seed.slice();
// A reboot at another time than the host's power-on draws another stream, as a real hardware RNG would.
if (Math.floor(getTime() * 1000) !== __T.c.bootMs) __T.r[3] = __T.r[3] ^ Math.floor(getTime() * 1000);
// Math.random: Espruino seeds it from the hardware RNG at start-up; with __T_CFG.mseed (four sfc32 words) it draws
// the simulator's stream instead (Rng.fromState), so that both run the same timer jitter (the differential test).
if (__T.c.mseed) {
  __T.mr = __T.c.mseed.slice();
  Math.random = function () {
    var r = __T.mr;
    var t = (((r[0] + r[1]) | 0) + r[3]) | 0;
    r[3] = (r[3] + 1) | 0;
    r[0] = r[1] ^ (r[1] >>> 9);
    r[1] = (r[2] + (r[2] << 3)) | 0;
    r[2] = (r[2] << 21) | (r[2] >>> 11);
    r[2] = (r[2] + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}
__T.m = function () {
  var u = process.memory(false).usage;
  if (u > __T.peak) __T.peak = u;
};
__T.out = function (tag, s) {
  print("\x01" + tag + " " + s);
};
__T.hex = function (a) {
  var s = "";
  for (var i = 0; i < a.length; i++) s += (a[i] < 16 ? "0" : "") + a[i].toString(16);
  return s;
};
__T.bytes = function (h) {
  var b = new Uint8Array(h.length >> 1);
  for (var i = 0; i < b.length; i++) b[i] = parseInt(h.substr(i * 2, 2), 16);
  return b;
};
// Injected faults: __T.fail[name] = n makes the next n calls of that Espruino function throw.
__T.f = function (name) {
  var n = __T.fail[name];
  if (n) {
    __T.fail[name] = n - 1;
    __T.out("F", name);
    throw new Error("injected fault: " + name);
  }
};
// What is on air now, printed after every change: the stored advert, or "-" when nothing goes out.
__T.air = function () {
  var o = __T.ao || {};
  var conn = o.connectable === undefined ? true : !!o.connectable;
  var iv = o.interval || 375;
  if (!conn && iv < 100) iv = 100;
  var on = __T.sleep ? __T.conn && __T.wc : !__T.conn || (!conn && o.whenConnected);
  __T.out("A", (on && __T.adv ? __T.hex(__T.adv) : "-") + " " + iv + " " + (conn ? 1 : 0) + " " + __T.addr);
};
__T.setName = function (n) {
  if (n === __T.name) return;
  __T.name = n;
  __T.out("M", n);
};
NRF.setAdvertising = function (data, opts) {
  __T.f("setAdvertising");
  __T.m();
  var o = opts || {};
  var conn = o.connectable === undefined ? true : !!o.connectable;
  var scan = o.scannable === undefined ? true : !!o.scannable;
  if (conn && !scan) throw new Error("Got BLE error 0x7 INVALID_PARAM");
  if (new Uint8Array(data).length > 31) throw new Error("Got BLE error 0xc DATA_SIZE");
  __T.adv = data;
  __T.ao = opts;
  // sd_ble_gap_device_name_set, at once.
  if (o.name !== undefined) __T.setName(String(o.name));
  if (__T.sleep && __T.conn && o.whenConnected) __T.wc = true;
  __T.air();
};
NRF.sleep = function () {
  __T.f("sleep");
  __T.sleep = true;
  __T.wc = false;
  __T.air();
  if (__T.conn) setTimeout(__T.D, 0);
};
NRF.wake = function () {
  __T.f("wake");
  // jsble_advertising_start does nothing when advertising already.
  if (!__T.sleep) return;
  __T.sleep = false;
  __T.air();
};
// jsble_restart_softdevice: the address, the default GAP name, awake, then the stored advert and options again.
__T.restart = function () {
  __T.rs = false;
  if (__T.pu !== __T.uart) {
    __T.uart = __T.pu;
    __T.out("U", __T.uart ? 1 : 0);
  }
  if (__T.scanOpts) __T.scanOpts = { filters: __T.scanOpts.filters };
  __T.out("D", __T.addr);
  __T.setName(__T.ao && __T.ao.name !== undefined ? String(__T.ao.name) : __T.c.name);
  __T.sleep = __T.wc = false;
  __T.air();
};
NRF.setAddress = function (a) {
  __T.f("setAddress");
  // Espruino's own regular expressions are minimal: check the form by hand.
  var p = String(a).split(" ");
  var o = p[0].split(":");
  var ok = o.length === 6 && (p.length === 1 || p[1] === "random" || p[1] === "public");
  for (var i = 0; ok && i < 6; i++) ok = o[i].length === 2 && !isNaN(parseInt(o[i], 16));
  if (!ok) throw new Error("Expecting a mac address of the form aa:bb:cc:dd:ee:ff");
  if (p[1] === "random" && (parseInt(o[0], 16) & 0xc0) !== 0xc0)
    throw new Error("Got BLE error 0x3002 INVALID_BLE_ADDR");
  // Connected: the restart waits for the disconnect.
  if (__T.conn) __T.pa = a;
  else {
    __T.addr = a;
    __T.restart();
  }
};
NRF.setScan = function (cb, opts) {
  __T.f("setScan");
  if (!cb) {
    __T.cb = undefined;
    __T.scanOpts = undefined;
    __T.out("S", "0");
    return;
  }
  if (!__T.cb) __T.scanOpts = opts || {};
  __T.cb = cb;
  __T.out("S", "1");
};
NRF.findDevices = function () {
  throw new Error("findDevices is not modelled");
};
NRF.setServices = function (s, o) {
  __T.m();
  var keys = Object.keys(s);
  for (var i = 0; i < keys.length; i++) {
    var ch = s[keys[i]];
    var ck = Object.keys(ch);
    for (var j = 0; j < ck.length; j++) if (ch[ck[j]].onWrite) __T.onWrite = ch[ck[j]].onWrite;
  }
  var u = !(o && o.uart === false);
  __T.out("G", (u ? "uart" : "nouart") + " " + keys.join(","));
  var again = __T.sv || u !== __T.pu;
  __T.sv = true;
  __T.pu = u;
  if (!again) return;
  if (__T.conn) {
    __T.rs = true;
    print("BLE Connected, queueing BLE restart for later");
  } else __T.restart();
};
NRF.updateServices = function (u) {
  __T.f("updateServices");
  __T.m();
  if (__T.rs) throw new Error("Can't update services until BLE restart");
  var keys = Object.keys(u);
  for (var i = 0; i < keys.length; i++) {
    var ch = u[keys[i]];
    var ck = Object.keys(ch);
    for (var j = 0; j < ck.length; j++)
      if (ch[ck[j]].notify && ch[ck[j]].value !== undefined) {
        if (!__T.conn) throw new Error("Not connected");
        __T.out("N", __T.hex(new Uint8Array(ch[ck[j]].value)));
      }
  }
};
NRF.disconnect = function () {
  if (__T.conn) setTimeout(__T.D, 0);
};
NRF.getBattery = function () {
  __T.f("getBattery");
  return __T.c.volts;
};
NRF.setConnectionInterval = function () {};
E.getBattery = function () {
  __T.f("getBattery");
  return __T.c.percent;
};
E.hwRand = function () {
  __T.f("hwRand");
  // sfc32, the simulator's stream (host-tools/src/sim/rng.ts), seeded by the host.
  var r = __T.r;
  var t = (((r[0] + r[1]) | 0) + r[3]) | 0;
  r[3] = (r[3] + 1) | 0;
  r[0] = r[1] ^ (r[1] >>> 9);
  r[1] = (r[2] + (r[2] << 3)) | 0;
  r[2] = (r[2] << 21) | (r[2] >>> 11);
  r[2] = (r[2] + t) | 0;
  return t;
};
E.reboot = function () {
  __T.out("B", "reboot");
  load();
};
// jswrap_espruino.c: a timeout below 0 (or NaN) is 1 s; isAuto undefined or true is kicked by the idle loop, which
// the emulator always reaches (wdt 0: never fires). The host (band.ts) resets the band when a manual one runs out.
E.enableWatchdog = function (s, isAuto) {
  if (!(s >= 0)) s = 1;
  __T.wdt = isAuto === undefined || isAuto ? 0 : s;
  __T.kick = getTime();
};
E.kickWatchdog = function () {
  __T.kick = getTime();
};
__T.rq = require;
__T.St = (function () {
  var S = __T.rq("Storage");
  return {
    read: function (n, o, l) {
      __T.f("Storage.read");
      __T.m();
      return S.read(n, o, l);
    },
    readArrayBuffer: function (n) {
      __T.f("Storage.read");
      return S.readArrayBuffer(n);
    },
    // An injected write failure that the firmware's next write of the same file makes good (it compacts and
    // writes again: a lost write only is a fault) is reported as recovered ("R").
    write: function (n, d, o, s) {
      try {
        __T.f("Storage.write");
      } catch (e) {
        __T.pw = n;
        throw e;
      }
      __T.m();
      var r = S.write(n, d, o, s);
      if (r && __T.pw === n) __T.out("R", "Storage.write");
      __T.pw = undefined;
      return r;
    },
    erase: function (n) {
      __T.f("Storage.erase");
      return S.erase(n);
    },
    compact: function () {
      __T.f("Storage.compact");
      return S.compact();
    },
    list: function (r) {
      return S.list(r);
    },
    getFree: function () {
      return S.getFree();
    },
    getStats: function () {
      return S.getStats();
    },
  };
})();
__T.Cr = {
  SHA256: function (d) {
    __T.f("crypto");
    __T.m();
    return __T.rq("crypto").SHA256(d);
  },
  AES: {
    encrypt: function (block, key, opts) {
      __T.f("crypto");
      __T.m();
      if (!opts || opts.mode !== "ECB") throw new Error("only ECB is modelled");
      return __aesEcb(new Uint8Array(key), new Uint8Array(block)).buffer;
    },
  },
};
var require = function (n) {
  if (n === "Storage") return __T.St;
  if (n === "crypto") return __T.Cr;
  return __T.rq(n);
};
// Host entry points. A scan report as the stack delivers it: a BluetoothDevice built from the raw advert.
// A copy of bytes a..b as an ArrayBuffer (Espruino's TypedArray.slice returns a plain Array).
__T.cut = function (d, a, b) {
  var v = new Uint8Array(b - a);
  v.set(d.subarray(a, b));
  return v.buffer;
};
__T.S = function (raw, rssi, id) {
  if (!__T.cb) return;
  var data = E.toUint8Array(raw);
  var dev = { id: id, rssi: rssi, data: data.buffer };
  var i = 0;
  while (i + 1 < data.length) {
    var len = data[i];
    if (!len || i + 1 + len > data.length) break;
    var type = data[i + 1];
    if (type === 0x16 && len >= 3) {
      if (!dev.serviceData) dev.serviceData = {};
      var u = data[i + 3].toString(16) + (data[i + 2] < 16 ? "0" : "") + data[i + 2].toString(16);
      dev.serviceData[u] = __T.cut(data, i + 4, i + 1 + len);
    } else if (type === 0x03 || type === 0x02) {
      dev.services = [];
      for (var k = i + 2; k + 1 < i + 1 + len; k += 2) dev.services.push((data[k + 1] * 256 + data[k]).toString(16));
    } else if (type === 0xff && len >= 3) {
      dev.manufacturer = data[i + 2] + data[i + 3] * 256;
      dev.manufacturerData = __T.cut(data, i + 4, i + 1 + len);
    }
    i += len + 1;
  }
  var f = __T.scanOpts && __T.scanOpts.filters;
  if (f) {
    var pass = false;
    for (var j = 0; j < f.length && !pass; j++) {
      if (f[j].serviceData)
        pass =
          !!dev.serviceData &&
          Object.keys(f[j].serviceData).every(function (x) {
            return dev.serviceData[x] !== undefined;
          });
      if (f[j].manufacturerData)
        pass =
          dev.manufacturer !== undefined &&
          Object.keys(f[j].manufacturerData).every(function (x) {
            return +x === dev.manufacturer;
          });
    }
    if (!pass) return;
  }
  // One sample with the device object built, before the callback runs (a sample costs as much as the callback).
  __T.m();
  __T.cb(dev);
};
__T.C = function (peer) {
  __T.conn = true;
  __T.air();
  NRF.emit("connect", peer);
};
__T.W = function (hex) {
  if (!__T.conn || !__T.onWrite) return;
  __T.m();
  __T.onWrite({ data: __T.bytes(hex).buffer });
  __T.m();
};
__T.D = function () {
  if (!__T.conn) return;
  __T.conn = __T.wc = false;
  // Advertising resumes unless asleep, then a restart queued by setAddress or setServices runs.
  if (__T.pa || __T.rs) {
    if (__T.pa) __T.addr = __T.pa;
    __T.pa = undefined;
    __T.restart();
  } else __T.air();
  NRF.emit("disconnect", 19);
  __T.out("X", "disconnected");
};
__T.base = process.memory(false).usage;
__T.out("O", __T.base);
__T.out("M", __T.name);

import * as vm from "vm";

/**
 * A fresh V8 context holding only what Espruino has. Built-ins that shared/ESPRUINO.md lists as missing are
 * deleted (Map, Set, Symbol, Array.from, Array.prototype.lastIndexOf, Math.imul, Math.trunc, Number.isInteger,
 * Object.freeze, Promise.prototype.finally), and so are other ES2015+ globals Espruino does not implement
 * (WeakMap, WeakSet, WeakRef, FinalizationRegistry, Proxy, Reflect, BigInt, Intl, WebAssembly, SharedArrayBuffer,
 * Atomics): misuse fails at run time as it would on the band. Node globals never exist in a vm context.
 *
 * Espruino specifics added here:
 * - `Object.prototype.on/addListener/removeListener/removeAllListeners` (jswrap_object.c): every object can hold
 *   listeners, stored in hidden "#on<event>" properties; `emit` is provided by the device (events are queued).
 * - `Date` runs on the device clock and in UTC (Espruino's default time zone is 0), `Math.random` on the device's
 *   seeded generator: a run is reproducible.
 * - `Math.round` rounds halves away from zero, as Espruino's does (V8 rounds them up: -2.5 is -2 there, -3 here).
 * - `global` is the global object.
 */
export interface RealmHooks {
  nowMs: () => number;
  random: () => number;
  /** Called the first time the program uses promises (then/catch): from then on queued jobs are drained. */
  promises?: () => void;
}

export interface Realm {
  context: vm.Context;
  global: Record<string, unknown>;
  Object: ObjectConstructor;
  Array: ArrayConstructor;
  ArrayBuffer: ArrayBufferConstructor;
  Uint8Array: Uint8ArrayConstructor;
  DataView: DataViewConstructor;
  Error: ErrorConstructor;
  TypeError: TypeErrorConstructor;
  Promise: PromiseConstructor;
  JSON: JSON;
  /** Runs queued promise jobs of this context (microtaskMode "afterEvaluate" only drains after a script run). */
  drain(): void;
  /** The built-in objects of the realm (to exclude from memory estimates). */
  intrinsics: unknown[];
}

export const REMOVED_GLOBALS = [
  "Map",
  "Set",
  "WeakMap",
  "WeakSet",
  "WeakRef",
  "FinalizationRegistry",
  "Symbol",
  "Proxy",
  "Reflect",
  "BigInt",
  "BigInt64Array",
  "BigUint64Array",
  "Intl",
  "WebAssembly",
  "SharedArrayBuffer",
  "Atomics",
  "AggregateError",
];

const SETUP = `(function (hooks, removed) {
  "use strict";
  var g = globalThis;
  var defineProperty = Object.defineProperty;
  function hidden(o, k, v) {
    defineProperty(o, k, { value: v, writable: true, configurable: true, enumerable: false });
  }
  var R = {
    Object: Object, Array: Array, ArrayBuffer: ArrayBuffer, Uint8Array: Uint8Array, DataView: DataView,
    Error: Error, TypeError: TypeError, Promise: Promise, JSON: JSON
  };
  var intrinsics = [];
  Object.getOwnPropertyNames(g).forEach(function (n) {
    var v = g[n];
    if (v && (typeof v === "object" || typeof v === "function")) {
      intrinsics.push(v);
      if (v.prototype) intrinsics.push(v.prototype);
    }
  });
  intrinsics.push(Object.getPrototypeOf(function () {}), Object.getPrototypeOf([][Symbol.iterator]()));
  function on(event, listener) {
    var k = "#on" + event;
    var cur = this[k];
    if (cur === undefined) hidden(this, k, listener);
    else if (Array.isArray(cur)) cur.push(listener);
    else hidden(this, k, [cur, listener]);
  }
  hidden(Object.prototype, "on", on);
  hidden(Object.prototype, "addListener", on);
  hidden(Object.prototype, "removeListener", function (event, listener) {
    var k = "#on" + event;
    var cur = this[k];
    if (cur === listener) delete this[k];
    else if (Array.isArray(cur)) {
      var i = cur.indexOf(listener);
      if (i >= 0) cur.splice(i, 1);
      if (cur.length === 0) delete this[k];
      else if (cur.length === 1) hidden(this, k, cur[0]);
    }
  });
  hidden(Object.prototype, "removeAllListeners", function (event) {
    var self = this;
    if (event !== undefined) delete self["#on" + event];
    else Object.getOwnPropertyNames(self).forEach(function (k) { if (k.indexOf("#on") === 0) delete self[k]; });
  });
  var HostDate = Date;
  var P = HostDate.prototype;
  ["FullYear", "Month", "Date", "Day", "Hours", "Minutes", "Seconds", "Milliseconds"].forEach(function (n) {
    if (P["getUTC" + n]) hidden(P, "get" + n, P["getUTC" + n]);
    if (P["setUTC" + n]) hidden(P, "set" + n, P["setUTC" + n]);
  });
  hidden(P, "getTimezoneOffset", function () { return 0; });
  hidden(P, "toString", function () { return this.toUTCString(); });
  class EDate extends HostDate {
    constructor(...a) {
      if (a.length === 0) super(hooks.nowMs());
      else if (a.length === 1) super(a[0]);
      else super(HostDate.UTC(...a));
    }
    static now() { return hooks.nowMs(); }
  }
  g.Date = EDate;
  hidden(Math, "random", hooks.random);
  // jswrap_math_round: x + 0.5 (x - 0.5 below zero) cut to an integer, so halves round away from zero: -2.5 is -3
  // where V8 says -2 (measured in the real interpreter, test/espruino-real/differential.test.ts).
  var floor = Math.floor, ceil = Math.ceil;
  hidden(Math, "round", function round(x) {
    x = +x;
    if (!isFinite(x)) return x;
    return (x < 0 ? ceil(x - 0.5) : floor(x + 0.5)) + 0;
  });
  var then = Promise.prototype.then;
  hidden(Promise.prototype, "then", function (a, b) {
    if (hooks.promises) hooks.promises();
    return then.call(this, a, b);
  });
  removed.forEach(function (n) { delete g[n]; });
  delete Array.from;
  delete Array.prototype.lastIndexOf;
  delete Math.imul;
  delete Math.trunc;
  delete Number.isInteger;
  delete Object.freeze;
  delete Promise.prototype.finally;
  g.global = g;
  R.intrinsics = intrinsics;
  return R;
})`;

const setupScript = new vm.Script(SETUP, { filename: "espruino-realm.js" });
const drainScript = new vm.Script("undefined", { filename: "drain.js" });

export function createRealm(name: string, hooks: RealmHooks): Realm {
  const context = vm.createContext(
    {},
    { name, microtaskMode: "afterEvaluate", codeGeneration: { strings: true, wasm: false } },
  );
  const setup = setupScript.runInContext(context) as (
    h: RealmHooks,
    removed: string[],
  ) => Omit<Realm, "context" | "global" | "drain">;
  let promisesUsed = false;
  const r = setup(
    {
      ...hooks,
      promises: () => {
        promisesUsed = true;
      },
    },
    REMOVED_GLOBALS,
  );
  const global = vm.runInContext("globalThis", context) as Record<string, unknown>;
  return {
    ...r,
    context,
    global,
    // Programs that never touch a promise never have jobs to run: skip the (small) cost of a script run.
    drain: () => {
      if (promisesUsed) drainScript.runInContext(context);
    },
  };
}

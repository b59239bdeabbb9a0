import { World } from "../../host-tools/src/sim/world";
import { file, fixture, json, oneBand } from "./helpers";

/** The virtual Espruino device: dialect, timers on a drifting clock, power, faults, memory, crypto per board. */
describe("the interpreter's dialect", () => {
  test("Map, Set, Symbol, Array.from, Math.imul ... are missing inside the device, and using one is a fault", () => {
    const { world, band } = oneBand("missing-builtins.js");
    world.run(1);
    const seen = Object.fromEntries((file(band, "builtins") as string).split(",").map((x) => x.split(":")));
    for (const name of [
      "Map",
      "Set",
      "WeakMap",
      "Symbol",
      "Proxy",
      "Reflect",
      "Array.from",
      "lastIndexOf",
      "Math.imul",
      "Math.trunc",
      "Number.isInteger",
      "Object.freeze",
      "finally",
    ]) {
      expect([name, seen[name]]).toEqual([name, "undefined"]);
    }
    expect(seen.require).toBe("function");
    expect(seen["process.memory"]).toBe("function");
    expect(seen["E.hwRand"]).toBe("function");
    expect(band.faults).toHaveLength(1);
    expect(band.faults[0]).toMatchObject({ kind: "timer", message: expect.stringContaining("Map is not defined") });
  });
});

describe("faults", () => {
  test("an exception escaping a timer or an event listener is recorded; a caught one is not", () => {
    const { world, band } = oneBand("throws.js");
    world.run(1);
    expect(band.faults.map((f) => f.kind).sort()).toEqual(["event:init", "timer"]);
    expect(band.faults.find((f) => f.kind === "timer")?.message).toMatch(/TypeError/);
    // clearTimeout of an unknown id throws on Espruino ("Unknown Timeout"): the fixture caught it.
    expect(file(band, "caught")).toBe("1");
    expect(world.faults).toHaveLength(2);
  });

  test("onFault can stop a run at the first fault", () => {
    const world = new World({
      seed: 1,
      onFault: (f) => {
        throw new Error(`fault: ${f.message}`);
      },
    });
    const band = world.addBand({ board: "puckjs", bundleSource: "setTimeout(function () { null.x(); }, 100);" });
    expect(() => world.run(1)).toThrow(/fault: TypeError/);
    expect(band.faults).toHaveLength(1);
  });
});

describe("timers and the clock", () => {
  test("timers run on the device clock, which drifts by the board's ppm", () => {
    const { world, band } = oneBand("timers.js", { driftPpm: 500, clock: 1000 });
    world.run(20);
    // The RTC runs 500 ppm fast: the 10th tick is at device time 1010 = world time 10 / 1.0005.
    const tick10 = Number(file(band, "tick10"));
    expect(tick10).toBeCloseTo(1010, 2);
    expect(band.deviceTime(20)).toBeCloseTo(1000 + 20 * 1.0005, 6);
    expect(band.worldTimeFor(1010)).toBeCloseTo(10 / 1.0005, 6);
    expect(file(band, "never")).toBeUndefined();
    expect(file(band, "init")).toBe("ran after boot code, ticks=0");
    expect(band.faults).toEqual([]);
  });

  test("a power loss restarts the clock from 0; a reset keeps it", () => {
    const { world, band } = oneBand("timers.js", { clock: 5000, driftPpm: 0 });
    world.run(100);
    band.reset();
    world.run(200);
    band.powerCut(5);
    world.run(300);
    const boots = band.storage
      .list()
      .filter((n) => n.startsWith("boot"))
      .sort();
    // First boot at clock 5000, reset at world 100 -> clock 5100, power-on at world 205 -> clock 0.
    expect(boots).toEqual(["boot0", "boot5000", "boot5100"]);
    expect(band.boots).toBe(3);
    expect(band.powerOns).toBe(2);
    expect(band.faults).toEqual([]);
  });

  test("clearTimeout() without an argument clears every timer, as on Espruino", () => {
    const world = new World({ seed: 1 });
    const band = world.addBand({
      board: "puckjs",
      bundleSource: `var n = 0; setInterval(function(){ n++; require("Storage").write("n" + n, "x"); }, 100);
        setTimeout(function(){ clearTimeout(); }, 350);`,
    });
    world.run(2);
    expect(band.storage.list().filter((f) => f.startsWith("n"))).toEqual(["n1", "n2", "n3"]);
  });
});

describe("memory", () => {
  test("JsVars are estimated after callbacks; exceeding the board's count is a fault", () => {
    const { world, band } = oneBand("memory-hog.js");
    world.run(5);
    const early = band.memoryLast;
    expect(early).toBeGreaterThan(100);
    expect(band.faults).toEqual([]);
    world.run(60);
    expect(band.memoryPeak).toBeGreaterThan(2630);
    expect(band.faults.map((f) => f.kind)).toContain("memory");
  });

  test("a typed array costs far fewer JsVars than an array of numbers", () => {
    const world = new World({ seed: 1 });
    const typed = world.addBand({ board: "banglejs2", bundleSource: "var a = new Uint8Array(1000); a[0] = 1;" });
    const plain = world.addBand({
      board: "banglejs2",
      bundleSource: "var a = []; for (var i = 0; i < 1000; i++) a.push(i);",
    });
    const empty = world.addBand({ board: "banglejs2", bundleSource: "" });
    world.run(1);
    const t = typed.measureMemory();
    const p = plain.measureMemory();
    expect(p - t).toBeGreaterThan(800);
    // The real interpreter (14-byte variables): 77 variables for `var a = new Uint8Array(1000)`.
    expect(t - empty.measureMemory()).toBeGreaterThanOrEqual(70);
    expect(t - empty.measureMemory()).toBeLessThan(95);
  });

  test("the same heap under 13-byte packing: strings and buffers take more variables, names and numbers not", () => {
    const world = new World({ seed: 1 });
    const buf = world.addBand({ board: "puckjs", bundleSource: "var a = new Uint8Array(1300);" });
    const nums = world.addBand({ board: "puckjs", bundleSource: "var a = [1, 2, 3, 4, 5, 6, 7, 8];" });
    world.run(1);
    // 1,300 bytes: 100 flat variables of 13 bytes, 93 of 14 (plus the buffer, its view and the name).
    expect(buf.programVarsAs(13) - buf.programVarsAs(14)).toBe(7);
    expect(nums.programVarsAs(13)).toBe(nums.programVarsAs(14));
  });

  test("variables inside the bundle's IIFE (esbuild's wrapper) are counted", () => {
    const world = new World({ seed: 1 });
    const inside = world.addBand({
      board: "banglejs2",
      bundleSource:
        "(function(){ var a = []; for (var i = 0; i < 500; i++) a.push(i); setInterval(function(){ a[0]++; }, 1000); })();",
    });
    const empty = world.addBand({
      board: "banglejs2",
      bundleSource: "(function(){ setInterval(function(){}, 1000); })();",
    });
    world.run(2);
    expect(inside.measureMemory() - empty.measureMemory()).toBeGreaterThan(450);
  });
});

describe("crypto per board", () => {
  test.each([
    ["puckjs", { module: true, sha1: true, sha256: true, aes: true, ccm: false }],
    ["mdbt42q", { module: true, sha1: true, sha256: true, aes: false, ccm: false }],
    ["pixljs", { module: true, sha1: true, sha256: false, aes: false, ccm: false }],
    ["banglejs2", { module: true, sha1: false, sha256: true, aes: false, ccm: true }],
    ["puckjs-minimal", { module: false, sha1: false, sha256: false, aes: false, ccm: false }],
  ])("%s", (board, expected) => {
    const world = new World({ seed: 1 });
    const band = world.addBand({ board, bundleSource: fixture("crypto.js") });
    world.run(1);
    const c = json(band, "crypto");
    expect(c).toMatchObject(expected);
    if (c.sha256) expect(c.sha256abc).toBe(0xba);
    if (c.aes) {
      // AES.encrypt(..., {mode: "CTR", iv}) ignores iv: the same keystream as with no iv, which is ECB of block 0.
      expect(c.ctrWithIv).toBe(c.ctrNoIv);
      expect(c.ctrNoIv).toBe(c.ecb);
    }
    expect(band.faults).toEqual([]);
  });
});

describe("determinism", () => {
  const run = (seed: number) => {
    const world = new World({ seed });
    const bands = [0, 1, 2].map((i) =>
      world.addBand({ board: "puckjs", bundleSource: fixture("scanner.js"), position: { x: i, y: 0 }, name: `b${i}` }),
    );
    world.addPhone({ kind: "en", position: { x: 1, y: 1 } });
    world.addPhone({ kind: "bluezone", position: { x: 2, y: 1 } });
    world.run(30);
    return JSON.stringify(bands.map((b) => [file(b, "seen"), b.energy().chargeUc, b.memoryPeak]));
  };

  test("the same seed gives the same run; another seed another run", () => {
    const a = run(11);
    expect(run(11)).toBe(a);
    expect(run(12)).not.toBe(a);
  });
});

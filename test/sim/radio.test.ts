import { World } from "../../host-tools/src/sim/world";
import { file, fixture, json } from "./helpers";

interface Seen {
  seen: { en: number; bz: number; other: number };
  last: Record<
    string,
    {
      id: string;
      rssi: number;
      dataLen: number;
      proto: boolean;
      serviceData?: Record<string, number>;
      manufacturer?: number;
      manufacturerData?: number;
      services?: string[];
    }
  >;
}

/** Adverts between bands and phones: packet shapes as Espruino's setScan gives them, range, filters, NRF rules. */
describe("scanning", () => {
  test("device objects look like Espruino's: id with address type, rssi, data, serviceData 'fd6f', manufacturer", () => {
    const world = new World({ seed: 3 });
    const band = world.addBand({
      board: "puckjs",
      bundleSource: fixture("scanner.js"),
      position: { x: 0, y: 0, heading: 0 },
    });
    world.addPhone({ kind: "en", position: { x: 1, y: 0, heading: Math.PI } });
    world.addPhone({ kind: "bluezone", position: { x: 0, y: 1, heading: -Math.PI / 2 } });
    // A beacon the filters must keep out of JavaScript.
    world.addBand({
      board: "puckjs",
      bundleSource: "NRF.setAdvertising([2,1,6,5,9,0x41,0x42,0x43,0x44],{interval:100});",
      position: { x: 1, y: 1 },
    });
    world.run(11);
    const s = json<Seen>(band, "seen");
    expect(s.seen.en).toBeGreaterThan(20);
    expect(s.seen.bz).toBeGreaterThan(20);
    expect(s.seen.other).toBe(0);
    expect(s.last.en).toMatchObject({ dataLen: 31, proto: true, serviceData: { fd6f: 20 }, services: ["fd6f"] });
    expect(s.last.en.id).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5} random$/);
    expect(s.last.en.rssi).toBeLessThan(-50);
    expect(s.last.en.rssi).toBeGreaterThan(-96);
    expect(s.last.bz).toMatchObject({ manufacturer: 0x22b5, manufacturerData: 12 });
    expect(band.faults).toEqual([]);
  });

  test("nothing is heard beyond radio range", () => {
    const world = new World({ seed: 3 });
    const band = world.addBand({ board: "puckjs", bundleSource: fixture("scanner.js") });
    world.addPhone({ kind: "en", position: { x: 200, y: 0 } });
    world.run(11);
    expect(json<Seen>(band, "seen").seen.en).toBe(0);
  });

  test("a scan window of 10% hears about 10% of what a continuous scan hears", () => {
    const count = (window: number) => {
      const world = new World({ seed: 5 });
      const band = world.addBand({
        board: "puckjs",
        bundleSource: `var n = 0; NRF.setScan(function(){ n++; }, {interval: 100, window: ${window}});
          setTimeout(function(){ require("Storage").write("n", String(n)); }, 20000);`,
      });
      world.addPhone({ kind: "en", position: { x: 1, y: 0 } });
      world.run(21);
      return Number(file(band, "n"));
    };
    const full = count(100);
    const tenth = count(10);
    expect(full).toBeGreaterThan(50);
    expect(tenth / full).toBeGreaterThan(0.05);
    expect(tenth / full).toBeLessThan(0.2);
  });

  test("NRF.setAddress restarts the stack: scanning goes on with default parameters and the same callback", () => {
    const world = new World({ seed: 5 });
    const band = world.addBand({
      board: "puckjs",
      bundleSource: `var n = 0; NRF.setScan(function(){ n++; }, {interval: 100, window: 10});
        setTimeout(function(){ NRF.setAddress("c1:22:33:44:55:66 random"); n = 0; }, 1000);
        setTimeout(function(){ require("Storage").write("n", String(n)); }, 11000);`,
    });
    world.addPhone({ kind: "en", position: { x: 1, y: 0 } });
    world.run(12);
    // With the 10% window it would hear ~4 packets in 10 s; after the restart the scan is continuous again.
    expect(Number(file(band, "n"))).toBeGreaterThan(20);
    expect(band.nrf.address).toBe("c1:22:33:44:55:66 random");
  });

  test.each([0.25, 0.01])(
    "a stack restart costs the clock %s s (jsble_restart_softdevice restores the time it read before): timers fire that much later",
    (loss) => {
      const world = new World({ seed: 5 });
      const band = world.addBand({
        board: "puckjs",
        restartClockLossSeconds: loss,
        cpuClock: false,
        bundleSource: `var t = [];
          setTimeout(function(){
            t.push(getTime()); NRF.setAddress("c1:22:33:44:55:66 random"); t.push(getTime());
            require("Storage").write("a", "1");
          }, 1000);
          setTimeout(function(){ t.push(getTime()); require("Storage").write("t", t.join()); }, 5000);`,
      });
      // World times at which each timer's file appears (1 ms steps).
      const seen: Record<string, number> = {};
      while (world.now < 7) {
        world.run(world.now + 0.001);
        for (const n of ["a", "t"]) if (seen[n] === undefined && band.storage.read(n)) seen[n] = world.now;
      }
      const t = String(file(band, "t")).split(",").map(Number);
      expect(t[0]).toBeCloseTo(1, 3);
      expect(t[1]).toBeCloseTo(1 - loss, 3);
      expect(t[2]).toBeCloseTo(5, 3);
      // Due at 5 on the band's clock, which now runs `loss` behind: 4 + loss s of world time after the first.
      expect(seen.t - seen.a).toBeCloseTo(4 + loss, 2);
      expect(band.clockLosses).toBe(1);
      expect(band.faults).toEqual([]);
    },
  );
});

describe("scanning rules", () => {
  test("setScan while a scan runs keeps its interval and window; a new scan after stopping takes its own", () => {
    const world = new World({ seed: 1 });
    const band = world.addBand({
      board: "puckjs",
      bundleSource: `NRF.setScan(function(){}, {interval: 100, window: 10});
        setTimeout(function(){ NRF.setScan(function(){}, {interval: 100, window: 100}); }, 1000);
        setTimeout(function(){ NRF.setScan(); NRF.setScan(function(){}, {interval: 100, window: 50}); }, 2000);`,
    });
    const scan = () => (band.nrf as unknown as { scan?: { windowMs: number } }).scan?.windowMs;
    world.run(1.5);
    expect(scan()).toBe(10);
    world.run(2.5);
    expect(scan()).toBe(50);
    expect(band.faults).toEqual([]);
  });
});

describe("advertising rules", () => {
  test.each([
    ["a 32-byte raw packet", "NRF.setAdvertising(new Uint8Array(32), {connectable:false});", /DATA_SIZE/],
    [
      "a connectable advert that is not scannable (a directed advert without a peer)",
      "NRF.setAdvertising([2,1,6], {connectable:true, scannable:false});",
      /INVALID_PARAM/,
    ],
    ["a random address without the top bits set", 'NRF.setAddress("01:22:33:44:55:66 random");', /INVALID_BLE_ADDR/],
  ])("refuses %s", (_what, code, message) => {
    const world = new World({ seed: 1 });
    const band = world.addBand({ board: "puckjs", bundleSource: code });
    world.run(1);
    expect(band.faults).toHaveLength(1);
    expect(band.faults[0].message).toMatch(message);
  });

  test("a non-connectable interval under 100 ms is clamped to 100 ms, not refused", () => {
    const world = new World({ seed: 1 });
    const band = world.addBand({
      board: "puckjs",
      bundleSource: "NRF.setAdvertising([2,1,6], {connectable:false, interval: 50});",
    });
    world.run(1);
    expect(band.faults).toEqual([]);
    expect(band.nrf.advert()?.intervalMs).toBe(100);
  });

  test("an advert is only heard by a scanner: a band's EN packet reaches a phone-free neighbour's scan", () => {
    const world = new World({ seed: 9 });
    world.addBand({ board: "puckjs", bundleSource: fixture("advertiser.js"), position: { x: 0, y: 0 } });
    const listener = world.addBand({ board: "puckjs", bundleSource: fixture("scanner.js"), position: { x: 2, y: 0 } });
    world.run(11);
    expect(json<Seen>(listener, "seen").seen.en).toBeGreaterThan(10);
  });
});

describe("advertising data forms", () => {
  test("an object gives service data (with flags), an array of packets alternates, findDevices collates", () => {
    const world = new World({ seed: 6 });
    world.addBand({
      board: "puckjs",
      position: { x: 1, y: 0 },
      bundleSource: `NRF.setAdvertising([{ 0xfd6f: [1, 2, 3] }, [2, 1, 6, 3, 0xff, 0xb5, 0x22]], { interval: 200, showName: false });`,
    });
    const finder = world.addBand({
      board: "puckjs",
      bundleSource: `NRF.findDevices(function (devs) {
          var out = devs.map(function (d) { return { sd: d.serviceData ? Object.keys(d.serviceData) : [], m: d.manufacturer, n: d.serviceData && d.serviceData.fd6f ? new Uint8Array(d.serviceData.fd6f).length : 0 }; });
          require("Storage").writeJSON("found", out);
        }, { timeout: 3000 });`,
    });
    world.run(5);
    const found = json<{ sd: string[]; m?: number; n: number }[]>(finder, "found");
    // One device (one address), its two packets merged by findDevices: service data and the manufacturer id.
    expect(found).toEqual([{ sd: ["fd6f"], m: 0x22b5, n: 3 }]);
    expect(finder.faults).toEqual([]);
  });
});

describe("hostile adverts", () => {
  test.each(["random-service-data", "malformed", "oversize", "replay", "flood"] as const)(
    "%s reach the scan callback without breaking the simulator",
    (mode) => {
      const world = new World({ seed: 4 });
      const band = world.addBand({ board: "puckjs", bundleSource: fixture("scanner.js"), position: { x: 0, y: 0 } });
      world.addBand({ board: "puckjs", bundleSource: fixture("advertiser.js"), position: { x: 3, y: 0 } });
      world.addHostile({ mode, position: { x: 1, y: 0 } });
      world.run(11);
      expect(band.faults).toEqual([]);
      expect(json<Seen>(band, "seen").seen.en + json<Seen>(band, "seen").seen.bz).toBeGreaterThan(0);
    },
  );
});

import { loadBoard } from "../../host-tools/src/boards/load";
import { World } from "../../host-tools/src/sim/world";
import { fixture } from "./helpers";

/** Energy: time in each radio state and CPU time times the board's currents. */
describe("energy", () => {
  test("advertising alone: idle plus the board's advertising current scaled to the interval", () => {
    const world = new World({ seed: 1 });
    const band = world.addBand({ board: "puckjs", bundleSource: fixture("advertiser.js") });
    world.run(3600);
    const e = band.energy();
    const c = loadBoard("puckjs").currentUa;
    const expected = c.idle + (c.advertising * c.advertisingReferenceIntervalMs) / (250 + 5);
    expect(e.averageUaTotal).toBeGreaterThan(expected * 0.97);
    expect(e.averageUaTotal).toBeLessThan(expected * 1.05);
    expect(e.averageUa.scanning).toBe(0);
    expect(e.batteryDays).toBeCloseTo((220 * 1000) / e.averageUaTotal / 24, 6);
  });

  test("scanning 1 s every 4 min costs ~12 mA x 1/240 on a Puck.js", () => {
    const world = new World({ seed: 1 });
    const band = world.addBand({
      board: "puckjs",
      bundleSource: `NRF.sleep(); function scan(){ NRF.setScan(function(){}); setTimeout(function(){ NRF.setScan(); }, 1000); }
        setInterval(scan, 240000); scan();`,
    });
    world.run(4 * 3600);
    const e = band.energy();
    expect(e.averageUa.advertising).toBe(0);
    expect(e.averageUa.scanning).toBeGreaterThan((12000 / 240) * 0.98);
    expect(e.averageUa.scanning).toBeLessThan((12000 / 240) * 1.03);
  });

  test("a battery running low shows in E.getBattery", () => {
    const world = new World({ seed: 1 });
    const band = world.addBand({
      board: "puckjs",
      batteryPercent: 10,
      bundleSource: `NRF.setScan(function(){}); setInterval(function(){ require("Storage").write("b" + E.getBattery(), "x"); }, 600000);`,
    });
    world.run(3 * 3600);
    const levels = band.storage
      .list()
      .filter((f) => /^b\d+$/.test(f))
      .map((f) => Number(f.slice(1)));
    expect(Math.max(...levels)).toBeLessThanOrEqual(10);
    expect(Math.min(...levels)).toBeLessThan(Math.max(...levels));
  });
});

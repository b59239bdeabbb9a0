import { loadBoard } from "../../host-tools/src/boards/load";
import { CPU_JS_S } from "../../host-tools/src/sim/cpu-cost";
import { CPU_COST } from "../../host-tools/src/sim/device";
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

  test("scanning 1 s every 4 min costs the receiver's 6.5 mA x 1/240 on a Puck.js", () => {
    const world = new World({ seed: 1 });
    const band = world.addBand({
      board: "puckjs",
      bundleSource: `NRF.sleep(); function scan(){ NRF.setScan(function(){}); setTimeout(function(){ NRF.setScan(); }, 1000); }
        setInterval(scan, 240000); scan();`,
    });
    world.run(4 * 3600);
    const e = band.energy();
    expect(e.averageUa.advertising).toBe(0);
    expect(e.averageUa.scanning).toBeGreaterThan((6500 / 240) * 0.98);
    expect(e.averageUa.scanning).toBeLessThan((6500 / 240) * 1.03);
  });

  test("each callback kind is charged its measured JavaScript time; setAdvertising and setAddress their native cost", () => {
    const run = (src: string) => {
      const world = new World({ seed: 1 });
      const band = world.addBand({ board: "puckjs", bundleSource: `NRF.sleep(); ${src}` });
      // Half a minute past the tenth: each address change also makes the band's clock lose RESTART_CLOCK_LOSS_S.
      world.run(630);
      return band.energyMeter;
    };
    const cpu = (m: { charge: { cpu: number } }) => m.charge.cpu / loadBoard("puckjs").currentUa.cpu;
    const base = run(`setInterval(function(){}, 60000);`);
    const advert = run(`setInterval(function(){ NRF.setAdvertising([2,1,6]); }, 60000);`);
    const address = run(`setInterval(function(){ NRF.setAddress("c1:02:03:04:05:06 random"); }, 60000);`);
    // The boot, then ten callbacks in ten minutes: plain timers, advert updates, address rotations.
    expect(cpu(base)).toBeCloseTo(CPU_JS_S.callback + 10 * (CPU_JS_S.callback + CPU_JS_S.timer), 6);
    expect(cpu(advert) - cpu(base)).toBeCloseTo(10 * (CPU_JS_S.advert - CPU_JS_S.timer + CPU_COST.setAdvertising), 6);
    expect(cpu(address) - cpu(base)).toBeCloseTo(10 * (CPU_JS_S.rotation - CPU_JS_S.timer + CPU_COST.setAddress), 6);
    expect(advert.jsUc - base.jsUc).toBeCloseTo(
      10 * (CPU_JS_S.advert - CPU_JS_S.timer) * loadBoard("puckjs").currentUa.cpu,
      3,
    );
  });

  test("the range: low <= expected <= high current, days the other way; a CR2032 is derated", () => {
    const world = new World({ seed: 1 });
    const band = world.addBand({
      board: "puckjs",
      bundleSource: `setInterval(function(){ NRF.setScan(function(){}); setTimeout(function(){ NRF.setScan(); }, 4000); }, 300000);`,
    });
    world.run(3600);
    const e = band.energy();
    expect(e.range.expected.averageUa).toBeCloseTo(e.averageUaTotal, 6);
    expect(e.range.low.averageUa).toBeLessThan(e.range.expected.averageUa);
    expect(e.range.high.averageUa).toBeGreaterThan(e.range.expected.averageUa);
    expect(e.range.expected.batteryDays).toBeCloseTo(e.batteryDays * 0.75, 6);
    expect(e.range.low.batteryDays).toBeGreaterThan(e.range.expected.batteryDays);
    expect(e.range.high.batteryDays).toBeLessThan(e.range.expected.batteryDays);
    for (const b of ["low", "expected", "high"] as const) expect(e.range[b].assumes).toMatch(/CR2032/);
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

import { boardPeakVars, simPacking } from "../../host-tools/src/bench/sections/espruino-real";

// The bench's conversion of the real interpreter's 14-byte JsVars to a 13-byte board (issue 10's 65 % target).

describe("JsVars on a 13-byte board", () => {
  it("converts the steady part by the packing ratio and the rest under the +8 % bound, plus the empty program", () => {
    expect(boardPeakVars(1485, 1295, 1.01, 13)).toBe(Math.round(1295 * 1.01 + 190 * 1.08) + 150);
    // No steady part known: all of it under the bound.
    expect(boardPeakVars(1485, 0, 1, 13)).toBe(Math.round(1485 * 1.08) + 150);
    // A 14-byte board (the emulator's own layout): nothing to convert, its own empty program.
    expect(boardPeakVars(1797, 1600, 1.01, 14)).toBe(1797 + 284);
  });

  it("the simulator counts the Puck.js heap 0-8 % larger under 13-byte packing than under 14-byte", () => {
    const p = simPacking("puckjs");
    expect(p.vars14).toBeGreaterThan(1000);
    expect(p.vars13).toBeGreaterThan(p.vars14);
    expect(p.ratio).toBeLessThan(1.08);
  }, 120_000);
});

import { kioskMatchSection } from "../../host-tools/src/bench/sections/kiosk-match";

// Benchmarks are measured, never asserted: this checks that the quick run works and finds every planted match.
test("kiosk-match --quick finds every planted record with its tx power and reports its figures", async () => {
  const r = (await kioskMatchSection.run({ quick: true })) as {
    quick: boolean;
    check: { planted: number; missing: number; wrongTx: number; unexpected: number };
    aes: { ratioToRawBulk: number };
    keysPerSecond: number;
  };
  expect(r.quick).toBe(true);
  expect(r.check).toEqual({ planted: 200, missing: 0, wrongTx: 0, unexpected: 0 });
  expect(r.keysPerSecond).toBeGreaterThan(0);
  expect(r.aes.ratioToRawBulk).toBeGreaterThan(0);
  const figures = kioskMatchSection.figures?.(r) ?? [];
  expect(figures.map((f) => f.figure)).toContain("planted matches found with their tx power");
});

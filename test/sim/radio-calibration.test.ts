import { compareWithDublin, loadDublinRows } from "../../host-tools/src/sim/calibration";

/**
 * The radio model against the Dublin tram measurements (test/fixtures/datasets/dublin-tram-gaen): per-scan attenuation
 * between handset pairs at 0.5-5 m. The "dublin-tram" environment must reproduce the distribution per distance
 * band; the "indoor" environment (used by the built-in scenarios) keeps the same calibrated spread with a steeper
 * distance dependence.
 */
describe("radio calibration against the Dublin tram data", () => {
  test("the dataset is what its README says: 72 pairs at 0.5-5.15 m, about 15 minutes each", () => {
    const rows = loadDublinRows();
    expect(rows).toHaveLength(72);
    expect(Math.min(...rows.map((r) => r.distance))).toBe(0.5);
    expect(Math.max(...rows.map((r) => r.distance))).toBeCloseTo(5.15, 2);
    expect(rows[0].minutes).toHaveLength(19);
  });

  test("dublin-tram: mean and spread of attenuation per distance band match the measurements", () => {
    const seeds = [1, 2, 3].map((s) => compareWithDublin("dublin-tram", s));
    for (let b = 0; b < seeds[0].bands.length; b++) {
      const d = seeds[0].bands[b];
      const simMean = avg(seeds.map((c) => c.bands[b].simMean));
      const simSd = avg(seeds.map((c) => c.bands[b].simSd));
      const ks = avg(seeds.map((c) => c.bands[b].ks));
      expect({ band: d.band, meanError: Math.abs(simMean - d.dataMean) <= 2.5 }).toEqual({
        band: d.band,
        meanError: true,
      });
      expect({ band: d.band, sdRatio: simSd / d.dataSd > 0.75 && simSd / d.dataSd < 1.33 }).toEqual({
        band: d.band,
        sdRatio: true,
      });
      expect({ band: d.band, ks: ks < 0.2 }).toEqual({ band: d.band, ks: true });
    }
    const within = avg(seeds.map((c) => c.simWithinRowSd));
    expect(Math.abs(within - seeds[0].dataWithinRowSd)).toBeLessThan(1);
  });

  test("indoor: the same spread per distance band, attenuation growing with distance", () => {
    const seeds = [1, 2, 3].map((s) => compareWithDublin("indoor", s));
    for (let b = 0; b < seeds[0].bands.length; b++) {
      const ratio = avg(seeds.map((c) => c.bands[b].simSd)) / seeds[0].bands[b].dataSd;
      expect({ band: seeds[0].bands[b].band, ratio: ratio > 0.7 && ratio < 1.4 }).toEqual({
        band: seeds[0].bands[b].band,
        ratio: true,
      });
    }
    const means = seeds[0].bands.map((_, b) => avg(seeds.map((c) => c.bands[b].simMean)));
    expect(means[4] - means[0]).toBeGreaterThan(10);
  });
});

function avg(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

import { runF1Bench } from "../../host-tools/src/bench/sections/authority-f1";
import { runLoadBench } from "../../host-tools/src/bench/sections/authority-load";

/** The benchmarks' own correctness checks at a small size (timings are reported by `make bench`, not asserted). */
describe("authority benchmarks (small)", () => {
  test("F1 resolution finds every planted contact and nothing else", async () => {
    const r = await runF1Bench({ bands: 1500, sightings: 1000, days: 21, contacts: 40 });
    expect(r.foundContacts).toBe(r.expectedContacts);
    expect(r.falseContacts).toBe(0);
    expect(r.bandDays).toBeGreaterThanOrEqual(1500 * 21);
  });

  test("load: every accepted publish and log is in the database exactly once", async () => {
    const r = await runLoadBench({ clients: 8, jobs: 60, retryShare: 0.25, recordsPerLog: 20 });
    expect(r.failures).toBe(0);
    expect(r.keysInDbOnce).toBe(r.keysExpected);
    expect(r.totalExposureRowsInDb).toBe(r.keysExpected);
    expect(r.logsInDbOnce).toBe(r.acceptedLogs);
    expect(r.totalLogRowsInDb).toBe(r.acceptedLogs);
    expect(r.pass).toBe(true);
  });
});

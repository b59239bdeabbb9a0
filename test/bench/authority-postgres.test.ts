import { authorityPostgresSection, runPostgresBench } from "../../host-tools/src/bench/sections/authority-postgres";
import { PG_SKIP_REASON, PG_URL } from "../postgres";

// The authority-postgres bench section in quick mode: well-formed figures (never judged on speed here).

test("without TRACELET_PG_URL the section reports itself skipped, with the reason", async () => {
  const saved = process.env.TRACELET_PG_URL;
  delete process.env.TRACELET_PG_URL;
  try {
    const r = await runPostgresBench();
    expect(r.skipped).toMatch(/TRACELET_PG_URL/);
    expect(authorityPostgresSection.figures!(r)).toEqual([expect.objectContaining({ pass: false, method: r.skipped })]);
  } finally {
    if (saved !== undefined) process.env.TRACELET_PG_URL = saved;
  }
});

(PG_URL ? test : test.skip)(
  `quick run on PostgreSQL: publish on one and two nodes, F1 on one and two workers, scale${PG_URL ? "" : " " + PG_SKIP_REASON}`,
  async () => {
    const r = await runPostgresBench({
      jobs: 40,
      clients: 4,
      f1Logs: 1,
      f1Bands: 200,
      f1JobBands: 50,
      f1Days: 3,
      f1Sightings: 50,
      scaleBands: [300],
      scaleSightings: 100,
    });
    expect(r.skipped).toBeUndefined();
    expect(r.server!.fsync).toMatch(/^(on|off)$/);
    for (const run of [r.publish!.one, r.publish!.two]) {
      expect(run.failures).toBe(0);
      expect(run.requests).toBe(160);
      expect(run.requestsPerSecond).toBeGreaterThan(0);
      expect(run.publish.count).toBe(40);
    }
    // One 3-day log vs 200 bands in jobs of 50: each TEK day the sightings touch (3, or 4 when the clock
    // tolerance reaches over midnight) x 4 ranges, every job completed once in each run.
    for (const w of [r.workers!.one, r.workers!.two]) {
      expect(w.done).toBe(1);
      expect([12, 16]).toContain(w.jobs);
      expect(w.jobsPerWorker.reduce((a, b) => a + b, 0)).toBe(w.jobs);
      expect(w.resolvedPerWorker.reduce((a, b) => a + b, 0)).toBe(1);
    }
    expect(r.scale!.runs[0].contactsFound).toBe(r.scale!.runs[0].contactsExpected);
    expect(r.scale!.extrapolatedSecondsFor1M).toBeGreaterThan(0);
    const figures = authorityPostgresSection.figures!(r);
    for (const f of figures) {
      expect(f).toEqual({
        figure: expect.any(String),
        target: expect.any(String),
        measured: expect.any(String),
        pass: f.pass === null ? null : expect.any(Boolean),
        method: expect.any(String),
      });
    }
    expect(figures.find((f) => f.figure.includes("extrapolated"))!.method).toMatch(/extrapolation/);
  },
  60000,
);

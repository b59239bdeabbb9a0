import { runRealLife } from "../../host-tools/src/espruino-real/scenario";
import { BOARDS, realInterpreterTests } from "./helpers";

/**
 * Every board's production bundle, exactly as flashed, in the real Espruino interpreter: half a day with 50
 * beacons, kiosk syncs through the project's own kiosk-side protocol code, and a power cut at a random flash byte.
 */
realInterpreterTests()("production bundle on the real interpreter", () => {
  test.each(BOARDS)(
    "%s: no interpreter error; found by its discovery advert, authenticated and synced; scans and logs",
    async (board) => {
      const r = await runRealLife({ board, hours: 6, beacons: 50, syncEveryHours: 2.5, powerCuts: 1, seed: 7 });
      expect(r.errors).toEqual([]);
      // Scan windows every ~4 min (+-10 %), Exposure Notification adverts rotating with the address.
      expect(r.scanWindows).toBeGreaterThan(6 * 12);
      expect(r.addresses).toBeGreaterThan(6 * 2);
      expect(r.discoveryAdverts).toBeGreaterThan(0);
      expect(r.syncs.length).toBeGreaterThanOrEqual(2);
      for (const s of r.syncs) {
        expect(s.error).toBeUndefined();
        expect(s).toMatchObject({ found: true, authenticated: true });
      }
      // Every sync after the first hours reads records and moves the cursor.
      expect(r.syncs.some((s) => s.units > 0)).toBe(true);
      expect(r.syncs.every((s) => s.acked > 0)).toBe(true);
      expect(r.powerCuts).toBe(1);
      expect(r.peakProgramVars).toBeGreaterThan(r.programVars);
      expect(r.programVars).toBeGreaterThan(0);
    },
    900_000,
  );
});

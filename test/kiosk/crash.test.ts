import * as path from "path";
import { storedBeyondFlash, syncCrashScenario, uploadCrashScenario } from "../../host-tools/src/kiosk/crash-rig";
import { ROOT } from "../helpers/paths";

/** A bounded sample here; `tracelet bench --only kiosk-crash` runs 200 of each. */
const RUNS = Number(process.env.KIOSK_CRASH_RUNS ?? 12);

/**
 * The kiosk service in a child process on simulated bands (production bundle) that live on in this process, killed
 * with SIGKILL at random moments (host-tools/src/kiosk/crash-rig.ts says what each scenario checks).
 */
describe("kiosk crash safety: kill -9", () => {
  test("the rig's check counts units: a band may log the same 8 bytes twice, the store may not hold them more often", () => {
    expect(storedBeyondFlash(["aa", "aa", "bb"], ["bb", "aa", "aa"])).toEqual([]);
    expect(storedBeyondFlash(["aa", "aa"], ["aa"])).toEqual(["aa"]);
    expect(storedBeyondFlash(["cc"], ["aa"])).toEqual(["cc"]);
  });

  test(`${RUNS} kills during syncs: nothing lost, nothing duplicated, no band's cursor ahead of the store`, async () => {
    const r = await syncCrashScenario(RUNS, (board) => path.join(ROOT, "dist", board, "tracelet.js"));
    expect(r.violations).toEqual([]);
    expect(r.kills).toBe(RUNS);
    // The kills hit syncs in flight (not only idle moments), and syncs finished between kills.
    expect(r.midWork).toBeGreaterThanOrEqual(Math.ceil(RUNS / 4));
    expect(r.completedBeforeKills).toBeGreaterThan(0);
  }, 600_000);

  test("kills during positive uploads: every job's keys and log reach the authority exactly once", async () => {
    const r = await uploadCrashScenario(RUNS);
    expect(r.violations).toEqual([]);
    expect(r.kills).toBeGreaterThan(0);
    // Kills left jobs between two steps (the authority had answered some of them).
    expect(r.midWork).toBeGreaterThan(0);
  }, 600_000);
});

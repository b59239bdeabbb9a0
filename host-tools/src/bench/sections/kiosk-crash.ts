import * as path from "path";
import { ROOT } from "../../build/paths";
import { syncCrashScenario, uploadCrashScenario } from "../../kiosk/crash-rig";
import { BenchSection } from "../types";

/**
 * kill -9 of the kiosk service at random moments, 200 times during syncs and 200 times during positive uploads
 * (crash-rig.ts says what is checked after every kill and at the end). The tests run 12 of each.
 */
const RUNS = 200;
const QUICK_RUNS = 8;

export const kioskCrashSection: BenchSection = {
  name: "kiosk-crash",
  description: "kill -9 the kiosk 200 times during syncs and 200 times during uploads: nothing lost or duplicated",
  run: async (opts) => {
    const runs = opts.quick ? QUICK_RUNS : RUNS;
    const sync = await syncCrashScenario(runs, (board) => path.join(ROOT, "dist", board, "tracelet.js"));
    // Enough queued jobs that every run still has work when it is killed.
    const upload = await uploadCrashScenario(runs, runs * 15);
    return {
      pass: sync.violations.length === 0 && upload.violations.length === 0 && sync.kills === runs,
      runs,
      sync,
      upload,
    };
  },
  figures: (result) => {
    const r = result as {
      runs: number;
      sync: { kills: number; midWork: number; violations: string[]; wallSeconds: number };
      upload: { kills: number; midWork: number; codesUsedUp: number; violations: string[]; wallSeconds: number };
    };
    return [
      {
        figure: `broken invariants after ${r.sync.kills} kills during syncs (${r.sync.midWork} mid-sync)`,
        target: "0",
        measured: String(r.sync.violations.length),
        pass: r.sync.violations.length === 0,
        method: "kiosk child on bridged simulated bands, SIGKILL at random",
      },
      {
        figure: `broken invariants after ${r.upload.kills} kills during uploads (${r.upload.midWork} mid-job, ${r.upload.codesUsedUp} codes used up)`,
        target: "0",
        measured: String(r.upload.violations.length),
        pass: r.upload.violations.length === 0,
        method: "kiosk child and an authority on loopback, SIGKILL at random",
      },
    ];
  },
};

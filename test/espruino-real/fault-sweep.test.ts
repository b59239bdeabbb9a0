import { sweep } from "../../host-tools/src/bench/sections/fault-sweep";
import { loadBoard } from "../../host-tools/src/boards/load";
import { realInterpreterTests } from "./helpers";

/**
 * Issue 18's sweep on a bounded sample (the bench runs 1,000 injections per board: `tracelet bench --only
 * fault-sweep`): 60 random faults in the Espruino calls the production bundle makes, real interpreter, one board
 * with native crypto and one without. Nothing silent, nothing uncounted, every hourly kiosk sync through.
 */
realInterpreterTests()("fault sweep, a sample", () => {
  test.each(["puckjs", "pixljs"])(
    "%s: 60 random faults: no duty silent, every fault counted, every sync through",
    async (board) => {
      const c = loadBoard(board).crypto;
      const r = await sweep(board, 60, c.sha256 || c.aesEcb);
      console.log(
        `${board} sweep of 60: longest gaps scan ${r.longestGap.scan.toFixed(0)} s, rotation ` +
          `${r.longestGap.rotation.toFixed(0)} s, discovery ${r.longestGap.discovery.toFixed(0)} s; ` +
          `${r.faultsCounted} counted, ${r.recoveredWrites} writes recovered, ${r.syncRetries} sync attempts again`,
      );
      expect(r.errors).toEqual([]);
      expect(r.gapsOver.filter((g) => !g.caught)).toEqual([]);
      expect(r.uncounted).toBe(0);
      expect(r.syncErrors).toBe(0);
      expect(r.faultsCounted).toBeGreaterThan(30);
      expect(r.pass).toBe(true);
    },
    300_000,
  );
});

import * as band from "./band";
import { boardCrypto, guard, platform, radio, setupServices, timers } from "./hw/espruino";
import { maxFrameBytes } from "./sync/sync-service";

/**
 * Band entry point: board constants come from the build (boards/<id>.json, injected by esbuild `define`),
 * deployment settings from the provisioning record, with defaults in tuning.ts (docs/protocol.md section 4).
 */
NRF.on("connect", guard(band.onConnect));
NRF.on("disconnect", guard(band.onDisconnect));

guard(() => {
  band.start(
    {
      // Folded by esbuild to a number (protocol/sync.ts BOARD_CODES).
      boardCode:
        __BOARD__ === "puckjs"
          ? 1
          : __BOARD__ === "pixljs"
            ? 2
            : __BOARD__ === "mdbt42q"
              ? 3
              : __BOARD__ === "banglejs2"
                ? 4
                : 0,
      mtu: __MTU__,
      logBudgetBytes: __LOG_BUDGET_BYTES__,
      advertisingIntervalMs: __ADVERTISING_INTERVAL_MS__,
      calibratedTxDbm: __CALIBRATED_TX_DBM__,
      // Distinct ids held per scan: 50 beacons in range fit with room to spare; bigger boards keep more.
      tableRows: __JS_VARS__ > 5000 ? 160 : 64,
    },
    boardCrypto(),
    platform,
    radio,
    timers,
  );
  setupServices(maxFrameBytes(__MTU__), band.onWrite);
})(undefined);

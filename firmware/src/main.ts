import * as band from "./band";
import { boardCrypto, guard, platform, radio, setupServices, timers } from "./hw/espruino";
import { maxFrameBytes } from "./sync/sync-service";
import { WATCHDOG_S } from "./tuning";

/**
 * Band entry point: board constants come from the build (boards/<id>.json, injected by esbuild `define`),
 * deployment settings from the provisioning record, with defaults in tuning.ts (docs/protocol.md section 4).
 */
// The watchdog restarts a band whose duties stop (a hang, or a duty that no longer runs): band.ts kicks it only
// while they all run. Not kicked automatically from idle.
E.enableWatchdog(WATCHDOG_S, false);
NRF.on("connect", guard(band.onConnect));
NRF.on("disconnect", guard(band.onDisconnect));

guard(() => {
  const provisioned = band.start(
    boardCrypto(),
    platform,
    radio,
    timers,
    // Board code, folded by esbuild to a number (protocol/sync.ts BOARD_CODES).
    __BOARD__ === "puckjs"
      ? 1
      : __BOARD__ === "pixljs"
        ? 2
        : __BOARD__ === "mdbt42q"
          ? 3
          : __BOARD__ === "banglejs2"
            ? 4
            : __BOARD__ === "puckjs-minimal"
              ? 5
              : 0,
    __MTU__,
    __LOG_BUDGET_BYTES__,
    __ADVERTISING_INTERVAL_MS__,
    __CALIBRATED_TX_DBM__,
    // Table rows (distinct ids held per scan): 50 beacons in range fit with room to spare; bigger boards keep more.
    __JS_VARS__ > 5000 ? 160 : 64,
  );
  setupServices(maxFrameBytes(__MTU__), band.onWrite, !provisioned);
})(undefined);

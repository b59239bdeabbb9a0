import { BandConfig, createBand } from "./band";
import { boardCrypto, guard, platform, radio, setupServices, timers } from "./hw/espruino";
import { BOARD_CODES } from "./protocol/sync";
import { maxFrameBytes } from "./sync/sync-service";

/**
 * Band entry point: board constants come from the build (boards/<id>.json, injected by esbuild `define`),
 * deployment settings from the provisioning record, with the defaults below.
 */
const FIRMWARE_VERSION = 1;

const config: BandConfig = {
  boardCode: BOARD_CODES.indexOf(__BOARD__) > 0 ? BOARD_CODES.indexOf(__BOARD__) : 0,
  firmwareVersion: FIRMWARE_VERSION,
  mtu: __MTU__,
  logBudgetBytes: __LOG_BUDGET_BYTES__,
  advertisingIntervalMs: __ADVERTISING_INTERVAL_MS__,
  calibratedTxDbm: __CALIBRATED_TX_DBM__,
  // A ~1 s window every 4 min (+-10%) catches every 15-minute contact several times over; see docs/protocol.md.
  scanPeriodS: 240,
  scanWindowMs: 1000,
  rssiFloorDbm: -100,
  lowBatteryPercent: 15,
  // Distinct ids held per scan: 50 beacons in range fit with room to spare; bigger boards keep more.
  tableRows: __JS_VARS__ > 5000 ? 160 : 64,
  discoveryPeriodMs: 4000,
  discoveryJitterMs: 2000,
  discoveryBurstMs: 350,
  discoveryIntervalMs: 100,
};

const band = createBand(config, boardCrypto(), platform, radio, timers);
let checker: unknown;

NRF.on(
  "connect",
  guard(() => {
    band.onConnect();
    checker = setInterval(guard(band.check), 1000);
  }),
);
NRF.on(
  "disconnect",
  guard(() => {
    if (checker !== undefined) clearInterval(checker as number);
    checker = undefined;
    band.onDisconnect();
  }),
);

guard(() => {
  setupServices(band.provisioned, maxFrameBytes(config.mtu), (d) => {
    band.onWrite(d);
  });
  band.start();
})(undefined);

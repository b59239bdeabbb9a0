import {
  decodeStatus,
  OP_SET_TIME,
  OP_STATUS,
  OP_STATUS_REPLY,
  OP_TIME_OK,
  STATUS_FLAG_TIME_VALID,
  u32Payload,
} from "../../firmware/src/protocol/sync";
import { ROTATE_GRACE_MS, ROTATE_MIN_MS, ROTATE_SPAN_MS } from "../../firmware/src/tuning";
import { RealBand } from "../../host-tools/src/espruino-real/band";
import { bootTestBand, findByDiscovery, hwRandSeed, kioskConnect } from "../../host-tools/src/espruino-real/scenario";
import { Rng } from "../../host-tools/src/sim/rng";
import { realInterpreterTests } from "./helpers";

const START = Date.UTC(2026, 0, 12) / 1000;

/**
 * A band that lost its clock (power cut) syncs with a kiosk that sets it: the band then owes a rotation at the link's
 * end (its Exposure Notification adverts start with a fresh address). A rotation timer that fires during that session
 * must still give the kiosk ROTATE_GRACE_MS, as for any connected central; it used to end the link at once (seen as
 * a whole-log read cut after 11 s, seven virtual days on puckjs-minimal). The same band, from the same flash and
 * seeds, holds one authenticated session twice (a STATUS every 5 s until the band ends it): once setting its clock,
 * once not. The rotation timer is the same in both (set at boot), so the link must end at the same moment.
 */
realInterpreterTests()("rotation grace after a kiosk sets the clock, real interpreter", () => {
  it("puckjs: a kiosk that set the clock keeps its link for the grace when the rotation comes", async () => {
    const rng = new Rng("real-rotation-grace");
    const { band: first, prov } = await bootTestBand("puckjs", rng, START);
    first.advance(30);
    const image = first.interp.flash.slice();
    const seed = hwRandSeed(rng.fork("reboot"));
    const hold = async (setTime: boolean) => {
      // Powered up again from the same flash without a clock, as after a power cut.
      const band = await RealBand.boot({ board: "puckjs", flash: image, startUnix: 0, seed });
      expect(findByDiscovery(band, prov.syncKey, 120)).toBeDefined();
      const { session, command, authenticate } = kioskConnect(band, prov.syncKey, rng);
      const from = band.now;
      expect(authenticate()).toBe(true);
      const reply = command(OP_STATUS, new Uint8Array(0), OP_STATUS_REPLY).find((f) => f.op === OP_STATUS_REPLY);
      const status = reply && decodeStatus(reply.payload);
      expect(status?.ok && status.value.flags & STATUS_FLAG_TIME_VALID).toBe(0);
      if (setTime)
        expect(command(OP_SET_TIME, u32Payload(START + 3600), OP_TIME_OK).map((f) => f.op)).toContain(OP_TIME_OK);
      const limit = from + (ROTATE_MIN_MS + ROTATE_SPAN_MS + 2 * ROTATE_GRACE_MS) / 1000;
      while (band.connected && band.now < limit) {
        band.write(session.command(OP_STATUS, new Uint8Array(0)));
        band.advance(5);
      }
      expect(band.connected).toBe(false);
      return band.now - from;
    };
    const without = await hold(false);
    const withTime = await hold(true);
    console.log(`link held ${without.toFixed(1)} s without setting the clock, ${withTime.toFixed(1)} s setting it`);
    // The rotation came during the session, and its grace was the whole of the link's last minute.
    expect(without).toBeGreaterThan(ROTATE_GRACE_MS / 1000);
    expect(Math.abs(withTime - without)).toBeLessThanOrEqual(5);
  }, 300_000);
});

import { pureCrypto } from "../../firmware/src/protocol/crypto";
import { firstBadPage, logKey, unitsOfPages } from "../../firmware/src/protocol/log-mac";
import { bootTestBand, kioskSync } from "../../host-tools/src/espruino-real/scenario";
import { Rng } from "../../host-tools/src/sim/rng";
import { realInterpreterTests } from "./helpers";

const START = Date.UTC(2026, 0, 5) / 1000;

/** A band that logged an hour with ten beacons changing ids every 5 minutes: enough units for several pages. */
async function loggedBand(board: string, seed: string) {
  const rng = new Rng(seed);
  const { band, prov } = await bootTestBand(board, rng, START);
  const radio = rng.fork("radio");
  const packet = () => new Uint8Array([2, 1, 0x1a, 3, 3, 0x6f, 0xfd, 23, 0x16, 0x6f, 0xfd, ...radio.bytes(20)]);
  const beacons = Array.from({ length: 10 }, (_, i) => ({
    address: `4${i}:11:22:33:44:55 random`,
    packet: packet(),
    at: START,
  }));
  // An hour with ten beacons changing ids every 5 minutes: enough units for several pages.
  const end = START + 3600;
  while (band.now < end) {
    if (band.scanning) {
      for (const b of beacons)
        if (band.now - b.at >= 300) {
          b.packet = packet();
          b.at = band.now;
        }
      band.advance(0.25);
      band.scanReports(beacons.map((b) => ({ data: b.packet, rssi: -60, address: b.address })));
    } else band.interp.runUntil(end * 1000, () => band.scanning);
  }
  return { band, prov, rng };
}

/**
 * The band side of the signed log in the real interpreter (the production bundle as flashed): the page MACs a sync
 * reads verify with the host's log key of that band (Puck.js sends frames in clear, Bangle.js 2 encrypts them:
 * the MAC is over the plaintext either way), and a page signed for another band id does not.
 */
realInterpreterTests()("signed log pages in the real interpreter", () => {
  it.each(["puckjs", "banglejs2"])(
    "%s: every READ page's MAC verifies with logKey(band secret)",
    async (board) => {
      const { band, prov, rng } = await loggedBand(board, `real-logmac:${board}`);
      const sync = kioskSync(band, prov.syncKey, rng.fork("kiosk"), () => band.now, { value: 0 });
      expect(sync.error).toBeUndefined();
      expect(sync.pages.length).toBeGreaterThan(1);
      const key = logKey(pureCrypto.sha256, prov.bandSecret);
      const x = { bandId: prov.bandId, pages: sync.pages };
      expect(firstBadPage(pureCrypto.sha256, key, x)).toBe(-1);
      const units = unitsOfPages(x);
      expect(units.ok && units.value.length).toBe(sync.units);
      expect(firstBadPage(pureCrypto.sha256, key, { ...x, bandId: new Uint8Array(8).fill(7) })).toBe(0);
    },
    300_000,
  );

  it("puckjs: a sync whose link drops mid-read finds the band again and resumes after its last kept page", async () => {
    const { band, prov, rng } = await loggedBand("puckjs", "real-logmac:resume");
    // The kiosk's radio loses the link once, after the second page.
    let drops = 1;
    const sync = kioskSync(
      band,
      prov.syncKey,
      rng.fork("kiosk"),
      () => band.now,
      { value: 0 },
      { pageUnits: 8, onPage: (n) => (n === 2 && drops-- > 0 ? band.disconnect() : undefined) },
    );
    expect(sync.error).toBeUndefined();
    expect(sync.links).toBe(2);
    expect(sync.lost).toEqual([expect.stringMatching(/^link 1 ended after 2 pages/)]);
    expect(sync.pages.length).toBeGreaterThan(3);
    const x = { bandId: prov.bandId, pages: sync.pages };
    expect(firstBadPage(pureCrypto.sha256, logKey(pureCrypto.sha256, prov.bandSecret), x)).toBe(-1);
    // Every unit once, in order: no page read twice, none skipped, and the ACK covers the whole log.
    const units = unitsOfPages(x);
    if (!units.ok) throw new Error(units.error);
    expect(units.value.length).toBe(sync.units);
    const cursors = units.value.map((u) => u.cursor);
    expect(cursors).toEqual(cursors.map((_, i) => cursors[0] + i));
    expect(sync.acked).toBe(sync.status?.logEnd);
    expect(sync.pages[sync.pages.length - 1].next).toBe(sync.acked);
  }, 300_000);
});

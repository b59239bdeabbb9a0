import { pureCrypto } from "../../firmware/src/protocol/crypto";
import {
  AUTH_FLAG_ENCRYPTED,
  AUTH_FLAGS,
  encodeAuthProve,
  ERR_AUTH_FAILED,
  ERR_AUTH_REQUIRED,
  KioskSession,
  OP_AUTH_BEGIN,
  OP_AUTH_OK,
  OP_CHALLENGE,
  OP_ERROR,
  OP_STATUS,
} from "../../firmware/src/protocol/sync";
import { bootTestBand, kioskSync } from "../../host-tools/src/espruino-real/scenario";
import { Rng } from "../../host-tools/src/sim/rng";
import { BOARDS, realInterpreterTests } from "./helpers";

/**
 * Issue 19 findings 1, 2 and 6 in the real Espruino interpreter, every board's production bundle as flashed:
 * a stranger's wrong proof ends only its own link (no back-off: the band's kiosk gets in right after), a flood of
 * unauthenticated writes gets one error reply and the link ends without the band's memory growing, and every
 * board's AUTH_OK says its frames are encrypted (KioskSession refuses a band that does not).
 */
const START = Date.UTC(2026, 0, 12) / 1000;

realInterpreterTests()("sync security in the real Espruino interpreter", () => {
  for (const board of BOARDS) {
    it(`${board}: wrong proofs and write floods cost the stranger its link, never the kiosk's sync`, async () => {
      const rng = new Rng(`real-sync-security:${board}`);
      const { band, prov } = await bootTestBand(board, rng, START);
      band.advance(30);
      const cursor = { value: 0 };
      const worldUnix = () => band.now;
      // A stranger: AUTH_BEGIN, then a junk proof.
      let got: Uint8Array[] = [];
      band.connect("stranger", (f) => got.push(f));
      band.write(new Uint8Array([OP_AUTH_BEGIN]));
      band.advance(0.2);
      expect(got.map((f) => f[0])).toEqual([OP_CHALLENGE]);
      band.write(encodeAuthProve(rng.bytes(16), rng.bytes(16)));
      band.advance(1);
      expect(got.map((f) => f[0])).toEqual([OP_CHALLENGE, OP_ERROR]);
      expect(got[1][1]).toBe(ERR_AUTH_FAILED);
      expect(band.connected).toBe(false);
      // The band's kiosk syncs at once (protocol 1 answered it with a back-off).
      const sync = kioskSync(band, prov.syncKey, rng.fork("kiosk1"), worldUnix, cursor);
      expect(sync.error).toBeUndefined();
      expect(sync.authenticated).toBe(true);
      band.advance(10);
      // A flood of 2,000 unauthenticated writes: one reply, the link ends, nothing is left queued.
      const before = band.programVars();
      got = [];
      band.connect("flooder", (f) => got.push(f));
      for (let i = 0; i < 2000; i++) band.write(new Uint8Array([OP_STATUS, i & 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
      band.advance(2);
      expect(got.length).toBe(1);
      expect(got[0][1]).toBe(ERR_AUTH_REQUIRED);
      expect(band.connected).toBe(false);
      expect(band.programVars()).toBeLessThanOrEqual(before + 20);
      // AUTH_OK carries the encryption flag on every board, and the session works.
      got = [];
      const s = new KioskSession(
        pureCrypto,
        prov.syncKey,
        (n) => rng.bytes(n),
        () => band.now * 1000,
      );
      band.connect("kiosk", (f) => {
        got.push(f);
        const e = s.receive(f);
        if (e.type === "write") band.write(e.data);
      });
      band.write(s.begin());
      band.advance(1);
      const ok = got.find((f) => f[0] === OP_AUTH_OK);
      expect(ok && ok[ok.length - 1]).toBe(AUTH_FLAGS);
      expect(AUTH_FLAGS & AUTH_FLAG_ENCRYPTED).toBe(AUTH_FLAG_ENCRYPTED);
      expect(s.authenticated).toBe(true);
      band.disconnect();
      expect(band.errors).toEqual([]);
    }, 120_000);
  }
});

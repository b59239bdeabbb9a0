import { pureCrypto as c } from "../../firmware/src/protocol/crypto";
import { decodeLogExportV3, firstBadPage, logKey } from "../../firmware/src/protocol/log-mac";
import { crc8, RECORD_SIZE } from "../../firmware/src/protocol/record";
import { decodeTekPayload, OP_READ_TEKS, OP_TEK, OP_TEKS_END } from "../../firmware/src/protocol/sync";
import { World } from "../../host-tools/src/sim/world";
import { call, certify, registerBand, startTestAuthority, TestKey, uploadLog } from "../authority/helpers";
import { addBand, provisioning, SimKiosk } from "./helpers/sim-kiosk";

/**
 * A genuine sync, end to end: two escrow bands (the flashed bundle) meet in the simulator; a kiosk reads the
 * positive band's log page by page (LogPages keeps the signed pages) and its TEKs, and the authority verifies
 * every page with the band's log key, checks the keys are the band's and resolves the other band as a contact.
 */
describe("signed band log from the simulator to the authority", () => {
  it("uploads, verifies and resolves the band the positive band met", async () => {
    const world = new World({ seed: 19 });
    const f0 = addBand(world, "puckjs", { x: 0, y: 0 }, provisioning(world, { mode: "escrow" }));
    const met = addBand(world, "puckjs", { x: 0.8, y: 0 }, provisioning(world, { mode: "escrow" }));
    world.run(2 * 3600);
    const kiosk = new SimKiosk(world, [f0.prov.syncKey], { x: 0.5, y: 0.5 });
    const found = await kiosk.find();
    expect(await kiosk.open(found.address, found.index)).toBe(true);
    const { units, pages } = await kiosk.readAll(0, f0.prov.bandId);
    const teks = (await kiosk.command(OP_READ_TEKS, new Uint8Array(0), OP_TEKS_END))
      .filter((f) => f.op === OP_TEK)
      .map((f) => {
        const d = decodeTekPayload(f.payload);
        if (!d.ok) throw new Error(d.error);
        return d.value.entry;
      });
    await kiosk.close();
    expect(pages.pages.length).toBeGreaterThan(0);
    const tlx = Buffer.from(pages.encode());
    // Every page verifies with the host's log key of that band, and carries every unit read.
    const x = decodeLogExportV3(tlx);
    if (!x.ok) throw new Error(x.error);
    expect(firstBadPage(c.sha256, logKey(c.sha256, f0.prov.bandSecret), x.value)).toBe(-1);
    expect(x.value.pages.reduce((n, p) => n + (p.body.length - 4) / RECORD_SIZE, 0)).toBeGreaterThanOrEqual(
      units.length,
    );

    const t = await startTestAuthority({ deployment: "escrow", rateLimits: { enabled: false } });
    try {
      t.clock.ms = world.unixNow() * 1000;
      await registerBand(t, f0.prov.bandId, true, f0.prov.bandSecret);
      await registerBand(t, met.prov.bandId, true, met.prov.bandSecret);
      const keys: TestKey[] = teks.map((e) => {
        const bytes = Buffer.from(e.tek);
        return {
          bytes,
          key: bytes.toString("base64"),
          rollingStartNumber: e.rollingStartNumber,
          rollingPeriod: e.rollingPeriod,
        };
      });
      const cert = await certify(t, keys, { log: tlx });
      const r = await uploadLog(t, tlx, cert.certificate, cert.hmacKey, keys);
      expect(r.status).toBe(201);
      await t.app.f1.kick();
      const list = (await call(t, "GET", "/api/contacts", { key: t.adminKey })).json.contacts;
      expect(list.map((x: { contactBandId: string }) => x.contactBandId)).toEqual([
        Buffer.from(met.prov.bandId).toString("hex"),
      ]);
      expect(list[0].positiveBandId).toBe(Buffer.from(f0.prov.bandId).toString("hex"));
      // A log of the other band's id with these pages is not that band's.
      const other = Buffer.from(tlx);
      Buffer.from(met.prov.bandId).copy(other, 4);
      other[15] = crc8(other, 0, 15);
      const c2 = await certify(t, keys, { log: other });
      const r2 = await uploadLog(t, other, c2.certificate, c2.hmacKey, keys);
      expect(r2.json.code).toBe("bad_log_mac");
    } finally {
      await t.close();
    }
  }, 120_000);
});

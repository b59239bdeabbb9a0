import { pureCrypto } from "../../firmware/src/protocol/crypto";
import {
  encodeConsoleCommand,
  ERR_AUTH_REQUIRED,
  ERR_BAD_ARGUMENT,
  KioskEvent,
  KioskSession,
  OP_CONSOLE,
  OP_CONSOLE_OK,
  OP_ERROR,
  OP_STATUS,
  OP_STATUS_REPLY,
  SYNC_SERVICE_UUID,
} from "../../firmware/src/protocol/sync";
import { RealInterpreter } from "../../host-tools/src/espruino-real/interpreter";
import { bootTestBand } from "../../host-tools/src/espruino-real/scenario";
import { Rng } from "../../host-tools/src/sim/rng";
import { VirtualSerial } from "../../host-tools/src/sim/serial";
import { World } from "../../host-tools/src/sim/world";
import { realInterpreterTests, sampleBoards } from "./helpers";

/**
 * Issue 14 item 5 in the real Espruino interpreter (2v29): the simulator's console (host-tools/src/sim/console.ts,
 * shared by its USB and Bluetooth consoles) answers keystrokes byte for byte as the interpreter's does, and every
 * board's production bundle, as flashed, turns the Bluetooth console on only for an authenticated CONSOLE, and only
 * with NRF.setServices(..., {uart: true}) once the kiosk's link is gone (the shim restarts the stack then, as
 * jswrap_ble_setServices does; a call during the link would queue the restart and make every later notification
 * fail).
 */
const START = Date.UTC(2026, 0, 12) / 1000;

/** Keystrokes EspruinoTools and a person at a terminal send, each typed after the one before. */
const TYPED = [
  "1+2\n",
  "\x10print(40+2)\n",
  "\x10var q = 5\n",
  "(q +\n1) * 3\n",
  "q\r\n",
  "junk\x03",
  "\x03",
  "if (q) {\n4\x03",
  "'a'+q\n",
  "\n",
  "\x10function f(a) {\n\x10  return a * 2;\n\x10}\n",
  "f(21)\n",
];

realInterpreterTests()("the console and CONSOLE in the real Espruino interpreter", () => {
  it("the simulator's console prints what the interpreter's prints, keystroke for keystroke", async () => {
    const real = await RealInterpreter.start({});
    const world = new World({ seed: 5 });
    const band = world.addBand({ board: "puckjs" });
    const serial = new VirtualSerial(band);
    let out = "";
    serial.on("data", (s: string) => (out += s));
    for (const text of TYPED) {
      const expected = real.typeRaw(text);
      out = "";
      serial.write(text);
      await world.runAsync(world.now + 0.5);
      expect({ text, out }).toEqual({ text, out: expected });
    }
  }, 60_000);

  describe.each(sampleBoards())("%s production bundle", (board) => {
    it("CONSOLE after authentication sets uart: true once the link is gone; refused without; gone after load()", async () => {
      const rng = new Rng(`real-console:${board}`);
      const { band, prov } = await bootTestBand(board, rng, START);
      band.advance(30);
      const sync = [SYNC_SERVICE_UUID];
      // As flashed: the UART removed at boot.
      expect(band.serviceCalls.map((c) => c.uart)).toEqual([false]);
      expect(band.uart).toBe(false);

      // A stranger's CONSOLE: ERROR 1 and the link ends; the services stay as they are.
      let got: Uint8Array[] = [];
      band.connect("stranger", (f) => got.push(f));
      band.write(new Uint8Array([OP_CONSOLE, 1, 0, 0x55, 0x41, 0x52, 0x54, 0, 0, 0, 0, 0, 0, 0, 0]));
      band.advance(2);
      expect(got.map((f) => [f[0], f[1]])).toEqual([[OP_ERROR, ERR_AUTH_REQUIRED]]);
      expect(band.connected).toBe(false);
      expect(band.serviceCalls.length).toBe(1);
      expect(band.uart).toBe(false);

      // The kiosk: authenticated, a wrong confirmation (bad argument), then CONSOLE.
      const events: KioskEvent[] = [];
      const s = new KioskSession(
        pureCrypto,
        prov.syncKey,
        (n) => rng.bytes(n),
        () => band.now * 1000,
      );
      band.connect("kiosk", (f) => {
        const e = s.receive(f);
        events.push(e);
        if (e.type === "write") band.write(e.data);
      });
      band.write(s.begin());
      band.advance(1);
      expect(s.authenticated).toBe(true);
      band.write(s.command(OP_CONSOLE, new Uint8Array([0x57, 0x49, 0x50, 0x45])));
      band.advance(1);
      const refused = events.find((e) => e.type === "error");
      expect(refused && refused.type === "error" && refused.code).toBe(ERR_BAD_ARGUMENT);
      band.write(s.command(OP_CONSOLE, encodeConsoleCommand()));
      band.advance(1);
      expect(events.some((e) => e.type === "frame" && e.op === OP_CONSOLE_OK)).toBe(true);
      // Nothing changes under the link, and the session goes on (no restart queued: notifications still work).
      expect(band.serviceCalls.length).toBe(1);
      band.write(s.command(OP_STATUS, new Uint8Array(0)));
      band.advance(1);
      expect(events.some((e) => e.type === "frame" && e.op === OP_STATUS_REPLY)).toBe(true);
      expect(band.connected).toBe(true);
      band.disconnect();
      band.advance(1);
      expect(band.serviceCalls.slice(1).map((c) => ({ uart: c.uart, services: c.services }))).toEqual([
        { uart: true, services: sync },
      ]);
      expect(band.uart).toBe(true);
      // Later links change nothing.
      band.connect("someone", () => undefined);
      band.advance(1);
      band.disconnect();
      band.advance(1);
      expect(band.serviceCalls.length).toBe(2);

      // load() (a restart): the bundle removes the UART again; nothing kept it.
      band.load();
      band.advance(10);
      expect(band.serviceCalls.slice(2).map((c) => c.uart)).toEqual([false]);
      expect(band.uart).toBe(false);
      got = [];
      expect(band.errors).toEqual([]);
      // Nothing secret on the console.
      expect(band.lines.join("\n")).not.toContain(Buffer.from(prov.syncKey).toString("hex"));
    }, 180_000);
  });
});

import { UART_SERVICE } from "../../host-tools/src/sim/nrf";
import { VirtualSerial } from "../../host-tools/src/sim/serial";
import { World } from "../../host-tools/src/sim/world";

/**
 * The simulator's JavaScript console (host-tools/src/sim/console.ts): one line discipline for the USB console
 * (VirtualSerial) and the Bluetooth UART (NrfStack), checked byte for byte against the real interpreter in
 * test/espruino-real/console.test.ts; and Espruino's way back into a band with a button: BTN1 held at power-on.
 */
describe("console line discipline", () => {
  async function usb(seed: number) {
    const world = new World({ seed });
    const band = world.addBand({ board: "puckjs" });
    const serial = new VirtualSerial(band);
    let out = "";
    serial.on("data", (s: string) => (out += s));
    return {
      world,
      band,
      async send(s: string): Promise<string> {
        out = "";
        serial.write(s);
        await world.runAsync(world.now + 0.5);
        return out;
      },
    };
  }

  test("echo and =value; DLE lines silent but for what they print; Ctrl-C; statements over several lines", async () => {
    const c = await usb(1);
    expect(await c.send("6*7\n")).toBe("6*7\r\n=42\r\n>");
    // Characters are echoed as they arrive, the line runs at its end.
    expect(await c.send("6*")).toBe("6*");
    expect(await c.send("8\r\n")).toBe("8\r\n=48\r\n>");
    expect(await c.send("\x10var a = 3\n")).toBe("");
    expect(await c.send("\x10print(a)\n")).toBe("3\r\n>");
    expect(await c.send("\x10a\n")).toBe("");
    // A statement waits for its brackets to balance: ":" prompts for the next line.
    expect(await c.send("[a,\n")).toBe("[a,\r\n:");
    expect(await c.send("a+1]\n")).toBe("a+1]\r\n=[3,4]\r\n>");
    expect(await c.send("\x10function g(x) {\n\x10  return x + a;\n\x10}\n")).toBe("");
    expect(await c.send("g(1)\n")).toBe("g(1)\r\n=4\r\n>");
    // A string with a bracket in it does not count; an unfinished string runs (and fails).
    expect(await c.send('"(" + a\n')).toBe('"(" + a\r\n="(3"\r\n>');
    // Ctrl-C wipes the statement being typed, over its lines.
    expect(await c.send("(a +\nbad")).toBe("(a +\r\n:bad");
    expect(await c.send("\x03")).toBe("\x1b[D\x1b[D\x1b[D\x1b[A\r\x1b[J>");
    expect(await c.send("a\n")).toBe("a\r\n=3\r\n>");
    expect(await c.send("\n")).toBe("\r\n>");
    expect(c.band.faults).toEqual([]);
  });

  test("the console follows a Bluetooth central on the UART: USB input is not console input meanwhile", async () => {
    const c = await usb(2);
    const central = c.world.central({ position: { x: 1, y: 0 }, name: "maintainer" });
    const link = await c.world.until(central.connect(c.band.nrf.address, { timeoutS: 10 }));
    expect(c.band.nrf.services.has(UART_SERVICE)).toBe(true);
    let ble = "";
    await c.world.until(
      link.subscribe(
        UART_SERVICE,
        "6e400003-b5a3-f393-e0a9-e50e24dcca9e",
        (d) => (ble += Buffer.from(d).toString("latin1")),
      ),
    );
    // Typed on USB while the console is on Bluetooth: ignored.
    expect(await c.send("1+1\n")).toBe("");
    await c.world.until(link.write(UART_SERVICE, "6e400002-b5a3-f393-e0a9-e50e24dcca9e", Buffer.from("2+2\n")));
    await c.world.runAsync(c.world.now + 0.5);
    expect(ble).toBe("2+2\r\n=4\r\n>");
    await c.world.until(link.disconnect());
    await c.world.runAsync(c.world.now + 0.5);
    // Back on USB.
    expect(await c.send("3+3\n")).toBe("3+3\r\n=6\r\n>");
  });
});

describe("BTN1 held at power-on skips the saved code (targets/nrf5x/main.c)", () => {
  const files = { ".boot0": "var boot0 = 1;" };
  const code = "var booted = 1; NRF.setServices({}, { uart: false });";

  test.each(["puckjs", "mdbt42q", "pixljs"])(
    "%s: .bootcde skipped, .boot0 runs, the console is on Bluetooth",
    (board) => {
      const world = new World({ seed: 3 });
      const band = world.addBand({ board, bundleSource: code, provisioning: files });
      world.advance(1);
      expect(band.evaluate("typeof booted")).toBe('="number"');
      expect(band.nrf.services.has(UART_SERVICE)).toBe(false);
      // Power cycle with the button held: Espruino's defaults, the UART among them.
      band.holdButton(true);
      band.powerCut(1);
      world.advance(5);
      expect(band.evaluate("typeof booted")).toBe('="undefined"');
      expect(band.evaluate("typeof boot0")).toBe('="number"');
      expect(band.nrf.services.has(UART_SERVICE)).toBe(true);
      // A chip reset (E.reboot, the watchdog) looks at the button too; load() does not.
      band.reset();
      expect(band.evaluate("typeof booted")).toBe('="undefined"');
      band.evaluate("load()");
      world.advance(1);
      expect(band.evaluate("typeof booted")).toBe('="number"');
      // Released: the saved code runs at power-on again.
      band.holdButton(false);
      band.powerCut(1);
      world.advance(5);
      expect(band.evaluate("typeof booted")).toBe('="number"');
      expect(band.faults).toEqual([]);
    },
  );

  test("banglejs2: .boot0-.boot3 are skipped as well", () => {
    const world = new World({ seed: 4 });
    const band = world.addBand({ board: "banglejs2", bundleSource: code, provisioning: files });
    world.advance(1);
    expect(band.evaluate("typeof boot0")).toBe('="number"');
    band.holdButton(true);
    band.powerCut(1);
    world.advance(5);
    expect(band.evaluate("typeof booted")).toBe('="undefined"');
    expect(band.evaluate("typeof boot0")).toBe('="undefined"');
    expect(band.nrf.services.has(UART_SERVICE)).toBe(true);
  });
});

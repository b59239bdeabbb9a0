import { VirtualSerial } from "../../host-tools/src/sim/serial";
import { World } from "../../host-tools/src/sim/world";

/** The virtual USB console the flasher talks to (EspruinoTools' conventions). */
describe("virtual serial console", () => {
  test("echo, =result and prompt; DLE lines are silent; boot code via Storage and load(); reset() skips .bootcde", async () => {
    const world = new World({ seed: 1 });
    const band = world.addBand({ board: "puckjs" });
    const serial = new VirtualSerial(band);
    let out = "";
    serial.on("data", (s: string) => (out += s));
    const send = async (s: string) => {
      out = "";
      serial.write(s);
      await world.runAsync(world.now + 0.5);
      return out;
    };

    expect(await send("1+2\n")).toBe("1+2\r\n=3\r\n>");
    // A DLE line prints nothing of its own (no echo, no result, no prompt), as the real interpreter does.
    expect(await send('\x10require("Storage").write(".bootcde", "var booted = getTime() >= 0 ? 42 : 0;")\n')).toBe("");
    expect(await send("function f(a) {\n  return a * 2;\n}\n")).toContain(">");
    expect(await send("f(21)\n")).toContain("=42");
    await send("load()\n");
    expect(await send("booted\n")).toContain("=42");
    await send("reset()\n");
    expect(await send("typeof booted\n")).toContain('="undefined"');
    await send('E.setBootCode("var again = 7;")\n');
    await send("load()\n");
    expect(await send("again\n")).toContain("=7");
    // Ctrl-C with nothing typed prints nothing; with a line typed it wipes it and shows the prompt again.
    expect(await send("\x03")).toBe("");
    expect(await send("abc\x03")).toBe("abc\x1b[D\x1b[D\x1b[D\r\x1b[J>");
    expect(band.boots).toBe(4);
  });
});

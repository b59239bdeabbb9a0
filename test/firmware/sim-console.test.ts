import { toHex } from "../../firmware/src/protocol/bytes";
import {
  decodeDiscoveryServiceData,
  encodeWipeCommand,
  ERR_AUTH_REQUIRED,
  matchDiscovery,
  OP_CONSOLE,
  OP_CONSOLE_OK,
  OP_ERROR,
  SYNC_SERVICE_UUID,
} from "../../firmware/src/protocol/sync";
import { nodePrims } from "../../host-tools/src/crypto/native";
import { BandSession, SessionError } from "../../host-tools/src/kiosk/session";
import { Advert, BandLink, simRadio, worldClock } from "../../host-tools/src/kiosk/radio";
import { EspruinoDevice } from "../../host-tools/src/sim/device";
import { createNobleBindings } from "../../host-tools/src/sim/noble-bindings";
import { UART_CHUNK, UART_RX, UART_SERVICE, UART_TX } from "../../host-tools/src/sim/nrf";
import { World } from "../../host-tools/src/sim/world";
import { addBand } from "./helpers/sim-kiosk";

/**
 * Issue 14 item 5, re-flashing a production band, on the simulator running the production bundles of one nRF52832
 * board (Puck.js) and the nRF52840 one (Bangle.js 2; the command is board-independent): the band has no Bluetooth
 * console until a kiosk holding its sync key sends CONSOLE (BandSession.openConsole); then, once the
 * kiosk's link ends, a central finds the Nordic UART service and uses the JavaScript console as EspruinoTools does,
 * until the band restarts. Strangers, wrong keys and a wrong confirmation get nothing.
 */
// The real @stoprocent/noble on the simulator's bindings, as EspruinoTools would reach the band.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Noble = require("@stoprocent/noble/lib/noble");

interface Char {
  uuid: string;
  on(ev: "data", fn: (d: Buffer, isNotification: boolean) => void): void;
  writeAsync(d: Buffer, withoutResponse: boolean): Promise<void>;
  subscribeAsync(): Promise<void>;
}
interface Peripheral {
  address: string;
  connectable: boolean;
  connectAsync(): Promise<void>;
  disconnectAsync(): Promise<void>;
  discoverAllServicesAndCharacteristicsAsync(): Promise<{ services: { uuid: string }[]; characteristics: Char[] }>;
  once(ev: "disconnect", fn: (reason: unknown) => void): void;
}

const bare = (u: string) => u.replace(/-/g, "");
const SVC = bare(SYNC_SERVICE_UUID);

/** The kiosk's radio finds the band by its discovery token and connects, as the sync engine does. */
async function kioskLink(world: World, syncKey: Uint8Array): Promise<BandLink> {
  const radio = simRadio(world, { x: 0.5, y: 0 });
  await world.until(radio.start());
  const found = new Promise<Advert>((resolve) =>
    radio.scan((a) => {
      const sd = a.serviceData.find((s) => s.uuid === SVC);
      const d = sd && decodeDiscoveryServiceData(new Uint8Array(sd.data));
      if (a.connectable && d && d.ok && matchDiscovery(nodePrims, [syncKey], d.value) === 0) resolve(a);
    }),
  );
  const a = await world.until(found, { timeoutS: 60 });
  await world.until(radio.stopScan());
  return world.until(radio.connect(a.id, 10000));
}

/** A console client: connects to the band's current address, subscribes to UART TX, types lines. */
async function consoleClient(world: World, band: EspruinoDevice) {
  const noble = new Noble(createNobleBindings(world, { position: { x: 0, y: 0.5 }, name: "maintainer" }));
  await world.until(noble.waitForPoweredOnAsync());
  const address = band.nrf.address.split(" ")[0];
  const found = new Promise<Peripheral>((resolve) =>
    noble.on("discover", (p: Peripheral) => {
      if (p.address === address && p.connectable) resolve(p);
    }),
  );
  await world.until(noble.startScanningAsync([], true));
  const p = await world.until(found, { timeoutS: 60 });
  await world.until(noble.stopScanningAsync());
  await world.until(p.connectAsync());
  const { services, characteristics } = await world.until(p.discoverAllServicesAndCharacteristicsAsync());
  const chunks: Buffer[] = [];
  const tx = characteristics.find((c) => c.uuid === bare(UART_TX));
  const rx = characteristics.find((c) => c.uuid === bare(UART_RX));
  if (tx) {
    tx.on("data", (d, isNotification) => {
      if (isNotification) chunks.push(d);
    });
    await world.until(tx.subscribeAsync());
  }
  return {
    p,
    services: services.map((s) => s.uuid),
    chunks,
    /** Types `text` (20 bytes per write, as EspruinoTools sends) and returns what came back within `seconds`. */
    async type(text: string, seconds = 1): Promise<string> {
      if (!rx) throw new Error("no UART RX characteristic");
      chunks.length = 0;
      const b = Buffer.from(text, "latin1");
      for (let i = 0; i < b.length; i += 20) await world.until(rx.writeAsync(b.subarray(i, i + 20), true));
      await world.runAsync(world.now + seconds);
      return Buffer.concat(chunks).toString("latin1");
    },
    async close(): Promise<void> {
      await world.until(p.disconnectAsync()).catch(() => undefined);
      await world.runAsync(world.now + 1);
    },
  };
}

const hasUart = (band: EspruinoDevice) => band.nrf.services.has(UART_SERVICE);

describe.each(["puckjs", "banglejs2"])("%s: CONSOLE opens the Bluetooth console until the next restart", (board) => {
  it("a production band has no console; after an authenticated openConsole and the kiosk's disconnect, a central uses it", async () => {
    const world = new World({ seed: 51 });
    const { band, prov } = addBand(world, board, { x: 0, y: 0 });
    world.advance(60);
    expect([...band.nrf.services.keys()]).toEqual([SYNC_SERVICE_UUID]);

    // Before: a central finds no UART service.
    let client = await consoleClient(world, band);
    expect(client.services).not.toContain(bare(UART_SERVICE));
    await client.close();

    const link = await kioskLink(world, prov.syncKey);
    const session = new BandSession(link, prov.syncKey, worldClock(world));
    await world.until(session.authenticate());
    await world.until(session.openConsole());
    // Still the same services while the kiosk is connected (the stack changes them only without a connection), and
    // the session goes on.
    expect(hasUart(band)).toBe(false);
    expect((await world.until(session.status())).firmwareVersion).toBeGreaterThan(0);
    await world.until(session.close());
    await world.runAsync(world.now + 1);
    expect(hasUart(band)).toBe(true);

    client = await consoleClient(world, band);
    expect(client.services).toContain(bare(UART_SERVICE));
    expect(client.services).toContain(SVC);
    // EspruinoTools' conventions: echo, "=value", the prompt; a DLE line is not echoed.
    expect(await client.type("1+2\n")).toBe("1+2\r\n=3\r\n>");
    expect(await client.type("\x10print(40+2)\n")).toBe("42\r\n>");
    expect(await client.type("\x10var q = 5\n")).toBe("");
    // A statement over several lines runs when its brackets balance; Ctrl-C wipes a line.
    expect(await client.type("(q +\n1) * 3\n")).toBe("(q +\r\n:1) * 3\r\n=18\r\n>");
    expect(await client.type("junk\x03")).toBe("junk\x1b[D\x1b[D\x1b[D\x1b[D\r\x1b[J>");
    // Output goes out in UART_TX notifications of at most 20 bytes.
    const long = await client.type('"' + "x".repeat(60) + '"\n');
    expect(long).toContain("=" + JSON.stringify("x".repeat(60)));
    expect(client.chunks.length).toBeGreaterThan(3);
    expect(Math.max(...client.chunks.map((c) => c.length))).toBe(UART_CHUNK);
    // A console user never authenticates with the sync service: it keeps the link past the sync watch (5 s, 15 s).
    await world.runAsync(world.now + 30);
    expect(await client.type("q\n")).toBe("q\r\n=5\r\n>");
    // The console is the interpreter's: what runs there runs on the band.
    await client.type('\x10require("Storage").write("maint", "ok")\n');
    expect(band.storage.read("maint")).toBeDefined();
    // Nothing secret printed anywhere.
    expect(band.consoleLines.join("\n")).not.toContain(toHex(prov.syncKey));
    await client.close();

    // A chip reset (E.reboot, the watchdog) brings the band back without the console: nothing persisted it.
    const boots = band.boots;
    band.reset();
    world.advance(30);
    expect(band.boots).toBe(boots + 1);
    expect(hasUart(band)).toBe(false);
    expect([...band.nrf.services.keys()]).toEqual([SYNC_SERVICE_UUID]);
    expect(band.faults).toEqual([]);
  }, 120000);

  it("a kiosk kept past the rotation: the console comes up in the quiet, and the radio stays quiet", async () => {
    const world = new World({ seed: 54 });
    const { band, prov } = addBand(world, board, { x: 0, y: 0 });
    world.advance(60);
    const session = new BandSession(await kioskLink(world, prov.syncKey), prov.syncKey, worldClock(world));
    await world.until(session.authenticate());
    await world.until(session.openConsole());
    const address = band.nrf.address;
    // Busy until the rotation lets the kiosk go (at most 20 minutes and the grace).
    let lost = false;
    for (let i = 0; i < 400 && !lost; i++) {
      lost = await world.until(session.status()).then(
        () => false,
        () => true,
      );
      if (!lost) await world.runAsync(world.now + 4);
    }
    expect(lost).toBe(true);
    await world.runAsync(world.now + 0.05);
    // The stack restarted with the console (which wakes the radio), and the band put it back to sleep: nothing of
    // the old identity goes out in the quiet.
    expect(hasUart(band)).toBe(true);
    expect(band.nrf.address).toBe(address);
    expect(band.nrf.advert()).toBeUndefined();
    world.advance(40);
    expect(band.nrf.address).not.toBe(address);
    expect(band.nrf.advert()).toBeDefined();
    expect(band.faults).toEqual([]);
  }, 120000);

  it("load() typed on the console and a power cycle end it too", async () => {
    const world = new World({ seed: 52 });
    const { band, prov } = addBand(world, board, { x: 0, y: 0 });
    world.advance(60);
    const open = async () => {
      const session = new BandSession(await kioskLink(world, prov.syncKey), prov.syncKey, worldClock(world));
      await world.until(session.authenticate());
      await world.until(session.openConsole());
      await world.until(session.close());
      await world.runAsync(world.now + 1);
      expect(hasUart(band)).toBe(true);
    };
    await open();
    const client = await consoleClient(world, band);
    const boots = band.boots;
    await client.type("load()\n", 5);
    world.advance(30);
    expect(band.boots).toBe(boots + 1);
    expect(hasUart(band)).toBe(false);
    await open();
    band.powerCut(2);
    world.advance(30);
    expect(band.on).toBe(true);
    expect(band.powerOns).toBe(2);
    expect(hasUart(band)).toBe(false);
    expect(band.faults).toEqual([]);
  }, 120000);

  it("refuses it without authentication, with a wrong key and with a wrong confirmation", async () => {
    const world = new World({ seed: 53 });
    const { band, prov } = addBand(world, board, { x: 0, y: 0 });
    world.advance(60);

    // Unauthenticated: a CONSOLE frame straight away is answered with ERROR 1 and the link ends.
    let link = await kioskLink(world, prov.syncKey);
    const got: Uint8Array[] = [];
    link.onNotify((d) => got.push(d));
    const frame = new Uint8Array([OP_CONSOLE, 1, 0, 0x55, 0x41, 0x52, 0x54, 0, 0, 0, 0, 0, 0, 0, 0]);
    await world.until(link.write(frame));
    await world.runAsync(world.now + 2);
    expect(got.map((f) => [f[0], f[1]])).toEqual([[OP_ERROR, ERR_AUTH_REQUIRED]]);
    expect(link.connected).toBe(false);
    expect(got.some((f) => f[0] === OP_CONSOLE_OK)).toBe(false);

    // A wrong key: authentication fails, there is no session to send CONSOLE in.
    const wrong = prov.syncKey.map((b) => b ^ 0x5a);
    link = await kioskLink(world, prov.syncKey);
    let session = new BandSession(link, wrong, worldClock(world));
    await expect(world.until(session.authenticate())).rejects.toThrow(SessionError);
    await expect(world.until(session.openConsole())).rejects.toThrow();
    await world.runAsync(world.now + 2);

    // Authenticated, but the payload is not the confirmation: ERROR 7 (bad argument), nothing changes.
    link = await kioskLink(world, prov.syncKey);
    session = new BandSession(link, prov.syncKey, worldClock(world));
    await world.until(session.authenticate());
    await expect(
      world.until(session.command(OP_CONSOLE, encodeWipeCommand(0).subarray(0, 4), OP_CONSOLE_OK, "CONSOLE")),
    ).rejects.toThrow(/bad argument/);
    await world.until(session.close());
    await world.runAsync(world.now + 2);

    expect(hasUart(band)).toBe(false);
    const client = await consoleClient(world, band);
    expect(client.services).not.toContain(bare(UART_SERVICE));
    await client.close();
    expect(band.faults).toEqual([]);
  }, 120000);
});

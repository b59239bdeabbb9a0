import { createNobleBindings } from "../../host-tools/src/sim/noble-bindings";
import { World } from "../../host-tools/src/sim/world";
import { fixture } from "./helpers";

// The real @stoprocent/noble, unchanged, on the simulator's bindings (its Noble class takes a bindings object).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Noble = require("@stoprocent/noble/lib/noble");

interface Char {
  uuid: string;
  properties: string[];
  on(ev: "data", fn: (d: Buffer, isNotification: boolean) => void): void;
  readAsync(): Promise<Buffer>;
  writeAsync(d: Buffer, withoutResponse: boolean): Promise<void>;
  subscribeAsync(): Promise<void>;
}
interface Peripheral {
  id: string;
  address: string;
  rssi: number;
  connectable: boolean;
  mtu: number | null;
  advertisement: { localName?: string };
  connectAsync(): Promise<void>;
  disconnectAsync(): Promise<void>;
  discoverAllServicesAndCharacteristicsAsync(): Promise<{ services: { uuid: string }[]; characteristics: Char[] }>;
  once(ev: "disconnect", fn: (reason: unknown) => void): void;
}

async function findByName(
  world: World,
  noble: {
    on: (e: string, f: (p: Peripheral) => void) => void;
    startScanningAsync: (u: string[], d: boolean) => Promise<void>;
    stopScanningAsync: () => Promise<void>;
  },
  name: string,
): Promise<Peripheral> {
  const found = new Promise<Peripheral>((resolve) =>
    noble.on("discover", (p: Peripheral) => {
      if (p.advertisement.localName === name) resolve(p);
    }),
  );
  await world.until(noble.startScanningAsync([], true));
  const p = await world.until(found);
  await world.until(noble.stopScanningAsync());
  return p;
}

const SVC = "2c1600011784427e963913ab76124552";
const uuid = (n: number) => `2c16000${n}1784427e963913ab76124552`;

describe("real noble on the simulated bindings", () => {
  test("scan, connect, discover, read, write, notify and disconnect a virtual band", async () => {
    const world = new World({ seed: 2 });
    const band = world.addBand({ board: "puckjs", bundleSource: fixture("gatt-echo.js"), position: { x: 1.5, y: 0 } });
    const noble = new Noble(createNobleBindings(world, { position: { x: 0, y: 0 } }));
    await world.until(noble.waitForPoweredOnAsync());
    const p = await findByName(world, noble, "Tracelet");
    expect(p.connectable).toBe(true);
    expect(p.address).toBe(band.nrf.address.split(" ")[0]);

    await world.until(p.connectAsync());
    const { services, characteristics } = await world.until(p.discoverAllServicesAndCharacteristicsAsync());
    // The GAP service the SoftDevice always has, then the band's own.
    expect(services.map((s) => s.uuid)).toEqual(["1800", SVC]);
    const byUuid = (u: string) => characteristics.find((c) => c.uuid === u) as Char;
    expect(byUuid(uuid(2)).properties).toEqual(["read"]);
    expect(byUuid(uuid(4)).properties).toEqual(["read", "notify"]);

    expect([...(await world.until(byUuid(uuid(2)).readAsync()))]).toEqual([0x54, 0x4c, 0x53, 1]);
    // The GAP device name: the board's default ("Puck.js" and the factory address's last 4 hex digits), whatever name
    // a raw advert carries.
    const name = (await world.until(byUuid("2a00").readAsync())).toString();
    expect(name).toBe(band.nrf.deviceName());
    expect(name).toMatch(/^Puck\.js [0-9a-f]{4}$/);

    const notes: string[] = [];
    byUuid(uuid(4)).on("data", (d, isNotification) => {
      if (isNotification) notes.push(d.toString("hex"));
    });
    await world.until(byUuid(uuid(4)).subscribeAsync());
    await world.until(byUuid(uuid(3)).writeAsync(Buffer.from([9, 8, 7]), false));
    await world.until(byUuid(uuid(3)).writeAsync(Buffer.from([6]), true));
    await world.runAsync(world.now + 1);
    expect(notes).toEqual(["01090807", "0206"]);

    // Writes longer than the characteristic's maxLen are refused by the band's stack.
    await expect(world.until(byUuid(uuid(3)).writeAsync(Buffer.alloc(41), false))).rejects.toThrow(/length|MTU/);

    const gone = new Promise((resolve) => p.once("disconnect", resolve));
    await world.until(p.disconnectAsync());
    await world.until(gone);
    await world.runAsync(world.now + 0.5);
    expect(band.consoleLines).toContain("disconnected 19");
    expect(band.faults).toEqual([]);
  });

  test("streaming notifications from an MTU-53 band runs at about 2.5 kB/s", async () => {
    const world = new World({ seed: 2 });
    const band = world.addBand({ board: "puckjs", bundleSource: fixture("streamer.js"), position: { x: 1, y: 0 } });
    const noble = new Noble(createNobleBindings(world, { position: { x: 0, y: 0 } }));
    await world.until(noble.waitForPoweredOnAsync());
    const p = await findByName(world, noble, "Stream");
    await world.until(p.connectAsync());
    const { characteristics } = await world.until(p.discoverAllServicesAndCharacteristicsAsync());
    const data = characteristics.find((c) => c.uuid === "7e570003000040008000000000000000") as Char;
    const ctl = characteristics.find((c) => c.uuid === "7e570002000040008000000000000000") as Char;
    let bytes = 0;
    let last = 0;
    data.on("data", (d) => {
      bytes += d.length;
      last = world.now;
    });
    await world.until(data.subscribeAsync());
    const start = world.now;
    await world.until(ctl.writeAsync(Buffer.from([0x10, 0x27]), false)); // 10000 bytes
    await world.runAsync(world.now + 10);
    expect(bytes).toBe(10000);
    const rate = bytes / (last - start);
    expect(rate).toBeGreaterThan(2000);
    expect(rate).toBeLessThan(3000);
    expect(band.faults).toEqual([]);
  });
});

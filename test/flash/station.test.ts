import * as path from "path";
import { defaultProvisioning, encodeProvisioning } from "../../firmware/src/protocol/provisioning";
import { WatchStation } from "../../host-tools/src/flash/station";
import { SimSerialPorts } from "../../host-tools/src/flash/transports";
import { simRadio, worldClock } from "../../host-tools/src/kiosk/radio";
import { World } from "../../host-tools/src/sim/world";

/**
 * `tracelet flash --batch` waits for bands as a technician brings them: serial ports as they are plugged in (a port
 * unplugged and plugged again is a new band), and over Bluetooth Espruino boards fresh from the box (their default
 * name) and Tracelet bands that are not provisioned (the all-zero discovery advert), never a band in use.
 */

const ROOT = path.resolve(__dirname, "..", "..");
jest.setTimeout(60_000);

test("serial ports: each port present, then each one plugged in, in order; a replugged port is a new band", async () => {
  const world = new World({ seed: 1 });
  const ports = new SimSerialPorts();
  const a = ports.plug(world.addBand({ board: "mdbt42q", name: "a" }));
  const st = new WatchStation(undefined, undefined, () => ports.ports());
  await st.start();
  try {
    expect(await st.next()).toBe(a);
    const later = st.next();
    setTimeout(() => ports.plug(world.addBand({ board: "mdbt42q", name: "b" })), 1500);
    expect(await later).toBe("sim:b");
    // Unplugged, and plugged in again: offered again once the watch has seen it gone.
    ports.unplug(a);
    await new Promise((r) => setTimeout(r, 1500));
    ports.plug(world.devices[0]);
    expect(await st.next()).toBe(a);
  } finally {
    st.stop();
  }
  // Stopped: no more bands.
  expect(await st.next()).toBeUndefined();
});

test("Bluetooth: a fresh Espruino board and an unprovisioned Tracelet band are offered, a provisioned band never", async () => {
  const world = new World({ seed: 2, startUnix: Math.floor(Date.now() / 1000) });
  const bundlePath = path.join(ROOT, "dist", "puckjs", "tracelet.js");
  const fresh = world.addBand({ board: "puckjs", name: "fresh", position: { x: 1, y: 0 } });
  const unprovisioned = world.addBand({ board: "puckjs", name: "blank", bundlePath, position: { x: 0, y: 1 } });
  const prov = defaultProvisioning(
    new Uint8Array(8).fill(1),
    new Uint8Array(16).fill(2),
    new Uint8Array(16).fill(3),
    world.startUnix,
  );
  const inUse = world.addBand({
    board: "puckjs",
    name: "inuse",
    bundlePath,
    provisioning: { "tl.prov": encodeProvisioning(prov) },
    clock: world.startUnix,
    position: { x: -1, y: 0 },
  });
  const radio = simRadio(world);
  const st = new WatchStation(2, { radio, clock: worldClock(world) }, async () => []);
  world.startRealtime(4);
  await st.start();
  const offered: string[] = [];
  try {
    for (let p = await st.next(); p; p = await st.next()) offered.push(p);
  } finally {
    st.stop();
    world.stopRealtime();
    radio.stop();
  }
  const addressOf = (d: typeof fresh) => d.nrf.address.split(" ")[0].toLowerCase();
  expect(offered).toHaveLength(2);
  expect(offered).toContain(addressOf(fresh));
  expect(offered).toContain(addressOf(unprovisioned));
  expect(offered).not.toContain(addressOf(inUse));
});

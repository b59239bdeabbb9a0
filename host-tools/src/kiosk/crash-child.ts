import { BridgeBindings } from "./sim-bridge";
import { NobleRadio } from "./radio";
import { KioskService } from "./service";

/**
 * A kiosk service in a child process whose Bluetooth is the parent's simulated bands (sim-bridge.ts): the process
 * the crash rig kills with SIGKILL. argv: data directory, simulation speed; with TL_AUTHORITY_URL and TL_KIOSK_KEY
 * in its environment it talks to that authority. Reports each sync to the parent.
 */
async function main(): Promise<void> {
  const [dataDir, speed] = process.argv.slice(2);
  const bindings = new BridgeBindings(Number(speed));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Noble = require("@stoprocent/noble/lib/noble") as new (b: unknown) => never;
  const radio = new NobleRadio(new Noble(bindings), bindings.clock, "the bridged simulated adapter");
  const service = new KioskService({
    dataDir,
    radio,
    clock: bindings.clock,
    engine: { resyncAfterMs: 0 },
    authority: process.env.TL_AUTHORITY_URL
      ? { url: process.env.TL_AUTHORITY_URL, apiKey: process.env.TL_KIOSK_KEY ?? "" }
      : undefined,
    log: (l) => process.stderr.write(l + "\n"),
  });
  service.engine.on("progress", (p) => process.send?.({ t: "progress", progress: p }));
  service.engine.on("synced", (r) => process.send?.({ t: "synced", result: r }));
  await service.start();
  process.send?.({ t: "ready" });
  process.on("SIGTERM", () => void service.stop().then(() => process.exit(0)));
}

main().catch((e: Error) => {
  process.stderr.write(`crash-child: ${e.message}\n`);
  process.exit(1);
});

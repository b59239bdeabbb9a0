import { ChildProcess } from "child_process";
import { EventEmitter } from "events";
import type { SimNobleBindings } from "../sim/noble-bindings";
import type { World } from "../sim/world";
import { KioskClock } from "./radio";

/**
 * Simulated bands in one process, the kiosk in another: how the crash tests kill -9 a kiosk while the bands it was
 * syncing live on, as real bands outlive a kiosk. The parent runs the world in real time (x `speed`) and serves
 * the simulator's noble bindings over the child's IPC channel; the child builds the real noble library on
 * `BridgeBindings`, which forwards every bindings call and replays every bindings event, the way noble's HCI
 * bindings talk to an adapter over a socket. The child's clock follows the world's virtual time.
 */
interface CallMsg {
  t: "call";
  m: string;
  args: unknown[];
}
interface EventMsg {
  t: "event";
  name: string;
  args: unknown[];
  worldMs: number;
}
interface TimeMsg {
  t: "time";
  worldMs: number;
}
type BridgeMsg = CallMsg | EventMsg | TimeMsg;

const CALLS = [
  "start",
  "stop",
  "reset",
  "setScanParameters",
  "startScanning",
  "stopScanning",
  "connect",
  "cancelConnect",
  "disconnect",
  "updateRssi",
  "discoverServices",
  "discoverIncludedServices",
  "discoverCharacteristics",
  "read",
  "write",
  "broadcast",
  "notify",
  "discoverDescriptors",
  "readValue",
  "writeValue",
  "readHandle",
  "writeHandle",
];

function wire(v: unknown): unknown {
  return v instanceof Error ? { __error: v.message } : v;
}

function unwire(v: unknown): unknown {
  return v && typeof v === "object" && "__error" in (v as object) ? new Error((v as { __error: string }).__error) : v;
}

/** Parent side: serves `bindings` to a forked child (fork with `serialization: "advanced"`). */
export function serveBindings(world: World, bindings: SimNobleBindings, child: ChildProcess): () => void {
  const worldMs = () => Math.round((world.startUnix + world.now) * 1000);
  const send = (m: BridgeMsg) => {
    if (child.connected) child.send(m, () => undefined);
  };
  const emit = bindings.emit.bind(bindings);
  bindings.emit = (name: string | symbol, ...args: unknown[]): boolean => {
    send({ t: "event", name: String(name), args: args.map(wire), worldMs: worldMs() });
    return emit(name, ...args);
  };
  const onMessage = (m: BridgeMsg) => {
    if (!m || m.t !== "call" || !CALLS.includes(m.m)) return;
    const fn = (bindings as unknown as Record<string, (...a: unknown[]) => void>)[m.m];
    fn.apply(
      bindings,
      m.args.map((a) =>
        a && typeof a === "object" && (a as { type?: string }).type === "Buffer" ? Buffer.from(a as never) : a,
      ),
    );
  };
  child.on("message", onMessage);
  const tick = setInterval(() => send({ t: "time", worldMs: worldMs() }), 50);
  const close = () => {
    clearInterval(tick);
    child.off("message", onMessage);
    bindings.stop();
  };
  child.once("exit", close);
  return close;
}

/** Child side: noble bindings that forward to the parent's simulator; `clock` follows the world's time. */
export class BridgeBindings extends EventEmitter {
  private worldMs = 0;
  private at = Date.now();

  constructor(readonly speed: number) {
    super();
    process.on("message", (m: BridgeMsg) => {
      if (!m || (m.t !== "event" && m.t !== "time")) return;
      this.worldMs = m.worldMs;
      this.at = Date.now();
      if (m.t === "event") {
        if (process.env.TL_BRIDGE_TRACE) process.stderr.write(`event ${m.name} ${m.worldMs}\n`);
        super.emit(m.name, ...m.args.map(unwire));
      }
    });
    for (const name of CALLS) {
      (this as unknown as Record<string, (...a: unknown[]) => void>)[name] = (...args: unknown[]) => {
        if (process.env.TL_BRIDGE_TRACE) process.stderr.write(`call ${name} ${this.clock.now()}\n`);
        if (process.send) process.send({ t: "call", m: name, args } satisfies CallMsg);
      };
    }
  }

  addressToId(address: string): string {
    return address.replace(/:/g, "").toLowerCase();
  }

  readonly clock: KioskClock = {
    now: () => this.worldMs + (Date.now() - this.at) * this.speed,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms / this.speed)),
  };
}

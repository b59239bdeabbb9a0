import { EventEmitter } from "events";
import { EspruinoDevice } from "./device";

/**
 * A virtual USB serial port onto a band's JavaScript console, as the flasher reaches a real one: bytes written go
 * to the console (the device's one line discipline, console.ts, which the Bluetooth UART shares), what it prints
 * comes back as "data" events while the console is on USB. `reset()`, `load()` and `E.setBootCode(...)` work as on
 * the device.
 *
 * Commands run as device events at the current virtual time: keep the world running (world.until / runAsync /
 * startRealtime) while talking to it.
 */
export class VirtualSerial extends EventEmitter {
  readonly close: () => void;

  constructor(readonly device: EspruinoDevice) {
    super();
    this.close = device.console.attach("USB", (s) => this.emit("data", s));
  }

  write(data: string | Uint8Array): void {
    this.device.console.input("USB", data);
  }
}

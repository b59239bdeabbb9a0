import { EventEmitter } from "events";
import { EspruinoDevice } from "./device";

/**
 * A virtual USB serial port onto a band's JavaScript console, as the flasher reaches a real one: bytes written go
 * to the REPL, the REPL's output comes back as "data" events. Behaviour of Espruino's console (jsinteractive.c)
 * that EspruinoTools relies on: input is echoed; a line starting with 0x10 (DLE) is not echoed; Ctrl-C (0x03)
 * clears the input line; a statement runs when its brackets balance at the end of a line; the result is printed
 * as "=value" followed by the ">" prompt; `reset()`, `load()` and `E.setBootCode(...)` work as on the device.
 *
 * Commands run as device events at the current virtual time: keep the world running (world.until / runAsync /
 * startRealtime) while talking to it.
 */
export class VirtualSerial extends EventEmitter {
  private line = "";
  private statement = "";
  private echo = true;
  private lineStart = true;

  constructor(readonly device: EspruinoDevice) {
    super();
    device.consoleListeners.push((l) => this.out(`${l}\r\n`));
  }

  write(data: string | Uint8Array): void {
    const s = typeof data === "string" ? data : Buffer.from(data).toString("latin1");
    for (const ch of s) this.char(ch);
  }

  private out(s: string): void {
    this.device.world.touchHost();
    this.emit("data", s);
  }

  private char(ch: string): void {
    if (ch === "\x03") {
      this.line = "";
      this.statement = "";
      this.lineStart = true;
      this.out("\r\n>");
      return;
    }
    if (ch === "\x10" && this.lineStart) {
      this.echo = false;
      return;
    }
    if (ch === "\r" || ch === "\n") {
      if (this.echo) this.out("\r\n");
      this.statement += this.line + "\n";
      this.line = "";
      this.lineStart = true;
      if (balanced(this.statement)) {
        const code = this.statement;
        this.statement = "";
        if (code.trim()) this.run(code);
        else if (this.echo) this.out(">");
      }
      this.echo = true;
      return;
    }
    this.lineStart = false;
    this.line += ch;
    if (this.echo) this.out(ch);
  }

  private run(code: string): void {
    const d = this.device;
    const quiet = !this.echo;
    d.schedule(d.world.now, () => {
      const result = d.on ? d.evaluate(code) : "";
      if (!quiet && result) this.out(`${result}\r\n`);
      this.out(">");
    });
  }
}

/** True when (), [] and {} balance outside strings and comments. */
function balanced(code: string): boolean {
  let depth = 0;
  let quote = "";
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
      continue;
    }
    if (c === '"' || c === "'" || c === "`") quote = c;
    else if (c === "/" && code[i + 1] === "/") {
      while (i < code.length && code[i] !== "\n") i++;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
  }
  return depth <= 0 && !quote;
}

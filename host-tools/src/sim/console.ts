import type { EspruinoDevice } from "./device";

/** The devices the JavaScript console can be on. */
export type ConsoleDevice = "USB" | "Bluetooth";

/**
 * A device's JavaScript console (REPL), one per device, whichever device it is on: the USB serial port
 * (VirtualSerial) or the Nordic UART service over Bluetooth (NrfStack). As Espruino's jsinteractive.c has one input
 * line for the console device, this is the one line discipline both use. Behaviour that EspruinoTools relies on,
 * checked against the real interpreter (2v29, test/espruino-real/console.test.ts):
 *
 * - input is echoed; a line that starts with 0x10 (DLE) is not, and neither is anything about it: no "=value", no
 *   prompt (only what the code prints, followed by ">");
 * - a statement runs when its brackets balance at the end of a line; an unbalanced line gets the ":" continuation
 *   prompt; "\r\n" counts as one line end;
 * - the result is printed as "=value", then the ">" prompt;
 * - Ctrl-C (0x03) clears the input line (the cursor goes back over it: ESC[D per character, ESC[A per earlier line
 *   of the statement, then "\r", ESC[J and the prompt); with nothing typed it prints nothing;
 * - input from a device the console is not on is not console input (it would reach that device's `data` listeners,
 *   which the simulator does not model).
 *
 * Commands run as device events at the current virtual time: keep the world running while talking to it.
 */
export class EspruinoConsole {
  /** The line being typed, and the earlier lines of an unfinished statement. */
  private line = "";
  private lines: string[] = [];
  private echoOff = false;
  private afterCr = false;
  private sinks: Record<ConsoleDevice, ((s: string) => void)[]> = { USB: [], Bluetooth: [] };
  /** Set when the program printed something (a quiet line still gets its prompt back then). */
  private printed = false;

  constructor(readonly device: EspruinoDevice) {
    device.consoleListeners.push((l) => this.print(l));
  }

  /** The device the console is on now: Bluetooth while a central is connected over the Nordic UART service. */
  where(): ConsoleDevice {
    return this.device.nrf.consoleIsBluetooth() ? "Bluetooth" : "USB";
  }

  /** Receives what the console prints while it is on `dev`; returns a function that detaches it. */
  attach(dev: ConsoleDevice, sink: (s: string) => void): () => void {
    this.sinks[dev].push(sink);
    return () => {
      const i = this.sinks[dev].indexOf(sink);
      if (i >= 0) this.sinks[dev].splice(i, 1);
    };
  }

  /** Forgets the input line without printing anything (a connection moving the console, a boot). */
  clearInputLine(): void {
    this.line = "";
    this.lines = [];
    this.afterCr = false;
  }

  /** Characters arriving from `dev`. */
  input(dev: ConsoleDevice, data: string | Uint8Array): void {
    if (dev !== this.where()) return;
    const s = typeof data === "string" ? data : Buffer.from(data).toString("latin1");
    for (const ch of s) this.char(ch);
  }

  private out(s: string): void {
    const sinks = this.sinks[this.where()];
    if (!sinks.length) return;
    this.device.world.touchHost();
    for (const f of sinks) f(s);
  }

  /** A line the program printed (print, console.log, an uncaught error). */
  private print(line: string): void {
    this.printed = true;
    this.out(`${line}\r\n`);
  }

  private char(ch: string): void {
    const cr = this.afterCr;
    this.afterCr = ch === "\r";
    if (ch === "\n" && cr) return;
    if (ch === "\x03") {
      if (!this.line && !this.lines.length) return;
      if (!this.echoOff) this.out("\x1b[D".repeat(this.line.length) + "\x1b[A".repeat(this.lines.length) + "\r\x1b[J>");
      this.line = "";
      this.lines = [];
      return;
    }
    if (ch === "\x10") {
      if (!this.line) this.echoOff = true;
      return;
    }
    if (ch === "\r" || ch === "\n") {
      const quiet = this.echoOff;
      this.echoOff = false;
      if (!quiet) this.out("\r\n");
      this.lines.push(this.line);
      this.line = "";
      const code = this.lines.join("\n");
      if (!balanced(code)) {
        if (!quiet) this.out(":");
        return;
      }
      this.lines = [];
      if (code.trim()) this.run(code, quiet);
      else if (!quiet) this.out(">");
      return;
    }
    this.line += ch;
    if (!this.echoOff) this.out(ch);
  }

  private run(code: string, quiet: boolean): void {
    const d = this.device;
    d.schedule(d.world.now, () => {
      this.printed = false;
      const result = d.on ? d.evaluate(code) : "";
      if (!quiet && result) this.out(`${result}\r\n`);
      if (!quiet || this.printed) this.out(">");
    });
  }
}

/**
 * True when the statement can run (jsiCountBracketsInInput): (), [] and {} balance outside strings and comments; an
 * unfinished string runs (and fails), an unfinished template literal waits for more.
 */
export function balanced(code: string): boolean {
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
  return depth <= 0 && quote !== "`";
}

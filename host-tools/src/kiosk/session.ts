import { randomBytes } from "crypto";
import { readU32LE } from "../../../firmware/src/protocol/bytes";
import { LogPage, LogPages } from "../../../firmware/src/protocol/log-mac";
import {
  BandStatus,
  decodeDataPayload,
  decodeStatus,
  decodeTekPayload,
  decodeTimeOk,
  encodeConsoleCommand,
  encodeReadCommand,
  KioskEvent,
  KioskSession,
  OP_ACK,
  OP_ACK_OK,
  OP_CONSOLE,
  OP_CONSOLE_OK,
  OP_DATA,
  OP_READ,
  OP_READ_END,
  OP_READ_TEKS,
  OP_SET_TIME,
  OP_STATUS,
  OP_STATUS_REPLY,
  OP_TEK,
  OP_TEKS_END,
  OP_TIME_OK,
  TekEntry,
  u32Payload,
} from "../../../firmware/src/protocol/sync";
import { nodePrims } from "../crypto/native";
import { BandLink, KioskClock } from "./radio";

type FrameEvent = Extract<KioskEvent, { type: "frame" }>;

/** A failure of one band's session, with a reason staff can read. */
export class SessionError extends Error {}

/**
 * One authenticated sync session over a BandLink: the protocol of docs/protocol.md section 7.3 as async calls.
 * Each command waits for its reply (or an ERROR, or the link going down, or `replyMs`) and returns the frames
 * that came with it.
 */
export class BandSession {
  private session: KioskSession;
  private events: KioskEvent[] = [];
  private waiter: (() => void) | undefined;
  private down: string | undefined;

  constructor(
    private link: BandLink,
    syncKey: Uint8Array,
    private clock: KioskClock,
    private replyMs = 5000,
  ) {
    this.session = new KioskSession(
      nodePrims,
      syncKey,
      (n) => new Uint8Array(randomBytes(n)),
      () => clock.now(),
    );
    link.onNotify((d) => {
      const e = this.session.receive(d);
      this.events.push(e);
      if (e.type === "write") void link.write(e.data).catch(() => undefined);
      this.wake();
    });
    link.onDisconnect((reason) => {
      this.down = reason;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (w) w();
  }

  /** Waits until an event from index `from` on satisfies `done`; throws on ERROR, an invalid frame, link loss, timeout. */
  private async wait(from: number, done: (e: KioskEvent) => boolean, what: string): Promise<KioskEvent[]> {
    const deadline = this.clock.now() + this.replyMs;
    for (;;) {
      const got = this.events.slice(from);
      const bad = got.find((e) => e.type === "error" || e.type === "invalid");
      if (bad) {
        throw new SessionError(
          bad.type === "error"
            ? `band refused ${what}: ${bad.message}`
            : `band sent an invalid frame during ${what}: ${bad.reason}`,
        );
      }
      if (got.some(done)) return got;
      if (this.down !== undefined) throw new SessionError(`link lost during ${what} (${this.down})`);
      const left = deadline - this.clock.now();
      if (left <= 0) throw new SessionError(`no answer to ${what} within ${this.replyMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        void this.clock.sleep(Math.min(left, 250)).then(() => {
          if (this.waiter === resolve) this.wake();
        });
      });
    }
  }

  async authenticate(): Promise<void> {
    const from = this.events.length;
    await this.link.write(this.session.begin());
    await this.wait(from, (e) => e.type === "authenticated", "authentication");
  }

  async command(op: number, payload: Uint8Array, replyOp: number, what: string): Promise<FrameEvent[]> {
    const from = this.events.length;
    await this.link.write(this.session.command(op, payload));
    const got = await this.wait(from, (e) => e.type === "frame" && e.op === replyOp, what);
    return got.filter((e): e is FrameEvent => e.type === "frame");
  }

  async status(): Promise<BandStatus> {
    const f = (await this.command(OP_STATUS, new Uint8Array(0), OP_STATUS_REPLY, "STATUS")).find(
      (x) => x.op === OP_STATUS_REPLY,
    );
    const s = decodeStatus((f as FrameEvent).payload);
    if (!s.ok) throw new SessionError("band status unreadable: " + s.error);
    return s.value;
  }

  /** SET_TIME: the band's error before the set (null: it had no valid time) and its drift estimate. */
  async setTime(unixSeconds: number): Promise<{ errorSeconds: number | null; driftPpm: number }> {
    const f = (await this.command(OP_SET_TIME, u32Payload(unixSeconds), OP_TIME_OK, "SET_TIME")).find(
      (x) => x.op === OP_TIME_OK,
    );
    const t = decodeTimeOk((f as FrameEvent).payload);
    if (!t.ok) throw new SessionError("TIME_OK unreadable: " + t.error);
    return t.value;
  }

  /**
   * One READ from `cursor`: the page if every frame of it arrived, else undefined (read the same cursor again).
   * `units` counts the units the page carries.
   */
  async readPage(cursor: number, bandId: Uint8Array): Promise<{ page: LogPage; units: number } | undefined> {
    const pages = new LogPages(bandId);
    pages.start();
    const frames = await this.command(OP_READ, encodeReadCommand(cursor, 32), OP_READ_END, "READ");
    let got: { next: number; kept: boolean } | undefined;
    let units = 0;
    for (const f of frames) {
      got = pages.frame(f.op, f.payload, f.gap) ?? got;
      if (f.op === OP_DATA) {
        const d = decodeDataPayload(f.payload);
        if (d.ok) units += d.value.units.length;
      }
    }
    if (!got || !got.kept) return undefined;
    return { page: pages.pages[0], units };
  }

  async ack(cursor: number): Promise<number> {
    const f = (await this.command(OP_ACK, u32Payload(cursor), OP_ACK_OK, "ACK")).find((x) => x.op === OP_ACK_OK);
    return readU32LE((f as FrameEvent).payload, 0);
  }

  /** READ_TEKS: every key of the band's retention period, newest first. */
  async readTeks(): Promise<TekEntry[]> {
    const frames = await this.command(OP_READ_TEKS, new Uint8Array(0), OP_TEKS_END, "READ_TEKS");
    const end = frames.find((x) => x.op === OP_TEKS_END) as FrameEvent;
    const teks: TekEntry[] = [];
    for (const f of frames) {
      if (f.op !== OP_TEK) continue;
      const t = decodeTekPayload(f.payload);
      if (!t.ok) throw new SessionError("TEK frame unreadable: " + t.error);
      teks.push(t.value.entry);
    }
    if (teks.length !== end.payload[0]) {
      throw new SessionError(`band announced ${end.payload[0]} keys but ${teks.length} arrived: read them again`);
    }
    return teks;
  }

  /**
   * CONSOLE (maintenance, docs/protocol.md section 7.2): the band turns its JavaScript console over Bluetooth (the
   * Nordic UART service) on once this link ends, until it restarts. Resolves on CONSOLE_OK; a refusal, a lost link or
   * no answer is a SessionError. Close the session afterwards, then connect to the band's console (EspruinoTools).
   */
  async openConsole(): Promise<void> {
    const f = (await this.command(OP_CONSOLE, encodeConsoleCommand(), OP_CONSOLE_OK, "CONSOLE")).find(
      (x) => x.op === OP_CONSOLE_OK,
    );
    if (!f || f.payload.length !== 0) throw new SessionError("CONSOLE_OK unreadable: it carries no payload");
  }

  async close(): Promise<void> {
    await this.link.disconnect().catch(() => undefined);
  }
}

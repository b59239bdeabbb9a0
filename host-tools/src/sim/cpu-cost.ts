import {
  OP_ACK,
  OP_AUTH_BEGIN,
  OP_AUTH_PROVE,
  OP_READ,
  OP_READ_TEKS,
  OP_SET_TIME,
  OP_STATUS,
} from "../../../firmware/src/protocol/sync-constants";

/**
 * JavaScript time per callback on an nRF52 (64 MHz Cortex-M4), measured in the real Espruino interpreter and
 * converted with a published timing. The simulator runs the bundle in V8, hundreds of times faster than Espruino and
 * not deterministic, so it charges this table instead: every callback pays `callback` plus the work of its kind,
 * told apart by what the callback did (device.ts `invoke`), exactly as the measurement classifies them
 * (espruino-real/cpu-profile.ts).
 *
 * How the table was made (re-run: `node host-tools/bin/tracelet.js bench --only cpu-profile`; checked by
 * test/espruino-real/cpu-profile.test.ts):
 * 1. In the real interpreter, each callback kind's host time (mean of the middle 80 % of the callbacks of two
 *    virtual hours with 20 beacons in range of every scan window, then a kiosk sync), less an idle jsIdle or the
 *    same scan report or sync request to a no-op callback; and the bytes of code each lexed (deterministic).
 * 2. In the same process, the calibration snippet below: its emulator time per iteration.
 * 3. nRF52 time = emulator time x NRF52_CALIBRATION.usPerIteration / emulator time per iteration.
 * The snippet is typed (its body in RAM) while the bundle runs from flash, read through a host call per byte in the
 * emulator: checked, the snippet stored in Storage and run from flash takes the same time per iteration.
 *
 * The ratio's source: espruino.com "Performance Notes" (EspruinoDocs info/Performance.md): on the original
 * Espruino board (STM32F103, 72 MHz Cortex-M3) `while (1) {A0.set();A0.reset();}` toggles a pin at roughly 4 kHz,
 * i.e. ~250 us per iteration. Scaled to the nRF52's 64 MHz clock (the same Thumb-2 instruction set; flash wait
 * states and the nRF52's instruction cache differ): ~281 us. Uncertainty: the figure predates Espruino 2v29 by a
 * decade (the interpreter has changed since, in both directions), is "roughly", and the clock scaling is
 * approximate; `low` and `high` below take the ratio at half and at twice that. The host's own noise moves the
 * measured ratio by about +-30 % between runs (12-22), inside that range.
 */

export const CPU_KINDS = [
  "callback",
  "scanReport",
  "scanWindow",
  "rotation",
  "advert",
  "logWrite",
  "timer",
  "syncRequest",
  "syncFrame",
] as const;

export type CpuKind = (typeof CPU_KINDS)[number];

export const NRF52_CALIBRATION = {
  /** The loop of the published snippet, bounded (the emulator has D1 where the original board had A0). */
  loop: "while(n--){D1.set();D1.reset();}",
  iterations: 2000,
  /** Published: ~4,000 iterations per second at 72 MHz (250 us), scaled to 64 MHz. */
  usPerIteration: 250 * (72 / 64),
  /** The ratio's range: the published figure at half and at twice the speed. */
  low: 0.5,
  high: 2,
  source:
    'espruino.com/Performance (EspruinoDocs info/Performance.md): original Espruino board, STM32F103 72 MHz, "while (1) {A0.set();A0.reset();}" ~4 kHz; scaled to 64 MHz',
};

/**
 * nRF52 seconds of JavaScript per callback kind (expected ratio), from profileBand on every board (2 virtual hours,
 * 20 beacons, 2026-12-01; calibration ratio 12-22 between runs: the host's noise, which the x0.5 .. x2 range
 * covers). Rounded from the Puck.js-class boards (puckjs, mdbt42q); other boards where they differ, CPU_JS_BOARD.
 * - callback: an empty timer callback (waking, finding the timer, entering and leaving the function): 0.1 ms;
 * - scanReport: the band's scan callback on top of `callback` (parse the advert, look the id up in the encounter
 *   table, count the sighting): 5.2 ms with the keyed lookup (emulator ~270 us); 8.9-9.0 ms with the linear search
 *   it replaced (emulator ~455 us; 5.0-9.9 ms over all boards);
 * - scanWindow: the timers that open and close a scan window (setScan, closing finished encounters, re-indexing the
 *   rows left): 11.7 ms (11.2-11.5 before the keyed lookup);
 * - rotation: the timer that changes the random address and the advert (new RPI and AEM, setAddress,
 *   setAdvertising): 725 ms. An upper bound on Puck.js, whose AES is native (the measurement ran the firmware's
 *   pure-JavaScript AES there); Pixl.js (no SHA256, no AES) 2.2 s;
 * - advert: a timer that changes only the advert (discovery bursts and their end): 11.5 ms (emulator ~600 us; with
 *   the board shim's hex printing of each advert it was 1.74 ms: the profile leaves that out);
 * - logWrite: a callback that writes the encounter log (record encoding and Storage calls; the flash itself is
 *   charged per word, CPU_COST.flashWord): 160-180 ms;
 * - timer: any other timer (housekeeping, watchdog kick): 0.15 ms;
 * - syncRequest: one sync request handled (onWrite: authentication, the command, its replies queued): 140 ms
 *   (emulator ~8 ms, 13,600 bytes lexed; one kiosk sync at the end of the profile; 210 ms when replies were sealed
 *   here, before they were sealed as they go out);
 * - syncFrame: a timer that encrypts, seals and sends up to BURST queued replies: 170 ms (emulator ~9.7 ms, 14,700
 *   bytes; 55 ms when it only sent frames sealed before). Upper bounds: the board shim prints each notification in
 *   hex, ~1 ms of emulator time a frame. The simulator does NOT charge syncFrame on these boards: a frame-sending
 *   timer stays a plain timer, its frames paid by CPU_COST.notify (20 ms each, calibrated to Espruino's documented
 *   ~2.5 kB/s streaming, which already includes a streaming loop's JavaScript). A READ costs a real Puck.js ~0.72 s
 *   (request and frames, bench cpu-profile syncOps) against the simulator's ~0.39 s (request + 9 notifications): a
 *   sync on a real band is likely slower than the simulator's (not yet reconciled);
 */
export const CPU_JS_S: Record<CpuKind, number> = {
  callback: 0.0001,
  scanReport: 0.0052,
  scanWindow: 0.0117,
  rotation: 0.725,
  advert: 0.0115,
  logWrite: 0.17,
  timer: 0.00015,
  syncRequest: 0.14,
  syncFrame: 0.17,
};

/** Boards whose measured figures differ from CPU_JS_S beyond its range (crypto the board lacks runs in JavaScript). */
export const CPU_JS_BOARD: Record<string, Partial<Record<CpuKind, number>>> = {
  // No native SHA256 (Pixl.js) or no crypto module at all (puckjs-minimal): id rotation and every sync request run
  // SHA256 / HMAC in JavaScript (bench cpu-profile, ratio 17-18, SHA-256 with its rotations written out: rotation
  // 1.29 and 1.26 s; 2.2 and 2.1 s before). Their sync requests are charged by op, frames included
  // (CPU_SYNC_OPS_S); syncRequest (the mean request without its frames, 0.86 and 0.83 s) and syncFrame (a timer
  // sealing up to BURST replies, 1.3 and 1.5 s) are what the profile reports, for the bench's check.
  pixljs: { rotation: 1.29, syncRequest: 0.86, syncFrame: 1.3 },
  "puckjs-minimal": { rotation: 1.26, syncRequest: 0.83, syncFrame: 1.5 },
};

/**
 * nRF52 seconds of one sync request by its op code, on the boards whose HMAC runs in JavaScript: there a request
 * costs what it hashes (opening the command's tag, sealing each reply frame; a READ seals a page of 8 DATA frames,
 * its READ_END and the page MAC), from 15 ms (AUTH_BEGIN: nothing to check) to 7.5-10.5 s (READ), so a mean would
 * hide the READ a kiosk waits for. The frames are sealed by the timers that send them (sync-service pumpNow), and
 * the profile adds those timers to the request's op: the figures are the request and its frames (re-measured after
 * that change: READ 7.33 / 9.03 s, the others within 15 %). Measured: bench cpu-profile's `syncOps` (one kiosk sync after 1 virtual hour
 * with 20 beacons, 2026-12-01, ratio 17.0 / 17.7, SHA-256 with its rotations written out; 6.8-7.3 nRF52 us per byte
 * of code lexed, whatever the op). Ops the profile's sync does not send are charged alike: READ_TEKS the READ's
 * figure (it seals a frame a key), WIPE and CONSOLE the STATUS's (one command opened, one frame sealed).
 */
export const CPU_SYNC_OPS_S: Record<string, Record<number, number>> = {
  pixljs: {
    [OP_AUTH_BEGIN]: 0.017,
    [OP_AUTH_PROVE]: 1.42,
    [OP_STATUS]: 1.71,
    [OP_READ]: 7.54,
    [OP_ACK]: 1.55,
    [OP_SET_TIME]: 1.69,
  },
  "puckjs-minimal": {
    [OP_AUTH_BEGIN]: 0.015,
    [OP_AUTH_PROVE]: 1.36,
    [OP_STATUS]: 1.8,
    [OP_READ]: 10.49,
    [OP_ACK]: 1.62,
    [OP_SET_TIME]: 1.79,
  },
};

/**
 * Bytes of code the real interpreter lexes per sync request by op on Pixl.js (the same profile as CPU_SYNC_OPS_S):
 * deterministic, so test/espruino-real/cpu-profile.test.ts holds the per-op table to the firmware with them.
 */
export const CPU_SYNC_OP_BYTES: Record<number, number> = {
  // Measured again after the build's inlining (build/inline.ts) and with the frames each request's timers seal
  // (2026-12-01): AUTH_BEGIN 2,717 -> 4,163 bytes (the dispatcher it passes through holds the other commands'
  // bodies), READ 1,103,157 -> 1,083,708 (7.33 s on Pixl.js, 9.03 s on puckjs-minimal in that run: within
  // CPU_SYNC_OPS_S's range, which is left as measured).
  [OP_AUTH_BEGIN]: 4163,
  [OP_AUTH_PROVE]: 189894,
  [OP_STATUS]: 243290,
  [OP_READ]: 1083708,
  [OP_ACK]: 241452,
  [OP_SET_TIME]: 219531,
};

/** nRF52 seconds of JavaScript for a sync request with op code `op` on `board`. */
export function cpuSyncRequest(board: string, op: number): number {
  const t = CPU_SYNC_OPS_S[board];
  return t ? (t[op] ?? (op === OP_READ_TEKS ? t[OP_READ] : t[OP_STATUS])) : cpuJs(board, "syncRequest");
}

/** The dearest sync request on `board` (a READ page on the JavaScript-crypto boards): what a kiosk must wait for. */
export function slowestSyncRequest(board: string): number {
  const t = CPU_SYNC_OPS_S[board];
  return t ? Math.max(...Object.values(t)) : cpuJs(board, "syncRequest");
}

/** nRF52 seconds of JavaScript for one callback of `kind` on `board`. */
export function cpuJs(board: string, kind: CpuKind): number {
  return CPU_JS_BOARD[board]?.[kind] ?? CPU_JS_S[kind];
}

/**
 * Bytes of the bundle's code the real interpreter lexes from flash per callback of each kind (puckjs, profileBand
 * for 1 virtual hour with 20 beacons): deterministic, unlike the host's time, so the test compares a fresh profile
 * with these (test/espruino-real/cpu-profile.test.ts). Espruino interprets the source text, so the bytes it lexes
 * follow its work: the emulator spends 0.33-0.46 us a byte in every kind but the log write (0.8: native Storage
 * calls). The scan report's bytes grew with the open encounters it searched: 638 with one beacon, 1,396 with 20,
 * 2,195 with 40 (a linear search, ~40 bytes a row); with the keyed lookup (scan/encounter-table.ts) 700, 705 and
 * 712. Closing a window re-indexes the rows left: 1,259 -> 1,411 bytes with 20. Since the build inlines single-call
 * functions (build/inline.ts, 2026-12-01) the log write lexes 13,212 -> 19,223 bytes: the encounter log's `add` now
 * sits in the per-row callback that closes encounters, and a row below the logging floor skips over its text
 * (~40 ms of nRF52 time a write, a few seconds a day); a sync request 17,513 -> 21,291 (the command dispatcher
 * holds the commands' bodies), then 13,621 once replies were sealed by the timer that sends them (syncFrame 5,530
 * -> 14,683).
 */
export const CPU_FLASH_BYTES: Partial<Record<CpuKind, number>> = {
  scanReport: 700,
  scanWindow: 1473,
  rotation: 92978,
  advert: 1489,
  logWrite: 19223,
  syncRequest: 13621,
  syncFrame: 14683,
};

/**
 * Faults: exceptions the hardware layer's guard caught (hw/espruino.ts) in a timer, radio or GATT callback. Nothing
 * is swallowed silently: each is counted with the duty it hit, and the status frame reports both (docs/protocol.md
 * section 7, STATUS). Duties register their callbacks here; a fault's code is its callback's place in the list + 1
 * (0: a callback that is not a duty, or the boot itself).
 *
 * Duties set their next run before they work, so a fault costs one run of one duty, never the rest of the band's
 * life; the watchdog (band.ts) restarts a band whose duties stop all the same.
 */
export const duties: unknown[] = [];
/**
 * [faults (saturating at 65535), code of the last fault's duty, resets (watchdog or E.reboot; saturating)], since
 * provisioning: state/band-state.ts keeps them in the journal across resets and power losses.
 */
export const faults = new Uint16Array(3);

/** The callback the guard is running: a fault found below it without an exception (a lost write) is its duty's. */
let current: unknown;

export function running(fn: unknown): void {
  current = fn;
}

export function fault(fn?: unknown): void {
  if (faults[0] < 65535) faults[0]++;
  faults[1] = duties.indexOf(fn === undefined ? current : fn) + 1;
}

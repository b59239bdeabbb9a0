import { DEFAULT_REPLY_MS, replyBudgetMs } from "../kiosk/engine";
import {
  BandStatus,
  BOARD_CODES,
  FAULT_DUTIES,
  matchDiscovery,
  STATUS_FLAG_TIME_VALID,
} from "../../../firmware/src/protocol/sync";
import { nodePrims } from "../crypto/native";
import { BandLink, discoveryOf, KioskClock, KioskRadio } from "../kiosk/radio";
import { BandSession } from "../kiosk/session";

/**
 * The flasher's last step: with the band's new sync key, find it by its discovery advert, authenticate over the
 * sync service and read its status, exactly as a clinic kiosk will. A band passes when it answers, runs the board's
 * firmware, has a valid clock and has caught no fault.
 */
export interface HealthReport {
  ok: boolean;
  /** What is wrong, one phrase each (empty when ok). */
  problems: string[];
  status?: BandStatus;
  seconds: number;
}

export type HealthCheck = (band: { bandId: string; board: string; syncKey: Uint8Array }) => Promise<HealthReport>;

/** What a status says is wrong for a band just flashed for `board`. */
export function statusProblems(s: BandStatus, board: string, unixNow: number): string[] {
  const problems: string[] = [];
  if (BOARD_CODES[s.boardCode] !== board)
    problems.push(`it reports board ${BOARD_CODES[s.boardCode] ?? s.boardCode}, not ${board}`);
  if (!(s.flags & STATUS_FLAG_TIME_VALID)) problems.push("its clock is not valid");
  else if (Math.abs(s.bandTime - unixNow) > 60) problems.push(`its clock is ${Math.round(s.bandTime - unixNow)} s off`);
  if (s.faults > 0)
    problems.push(`it has caught ${s.faults} fault(s), the last in ${FAULT_DUTIES[s.lastFaultDuty] ?? "a callback"}`);
  if (s.batteryPercent < 20) problems.push(`its battery is at ${s.batteryPercent} %`);
  return problems;
}

/** A health check over Bluetooth (the real adapter or the simulator's), within `timeoutMs`. */
export function radioHealthCheck(radio: KioskRadio, clock: KioskClock, timeoutMs = 60_000): HealthCheck {
  return async (band) => {
    const t0 = clock.now();
    const deadline = t0 + timeoutMs;
    const seconds = () => (clock.now() - t0) / 1000;
    await radio.start();
    let heard: (id: string) => void = () => undefined;
    await radio.scan((a) => {
      const d = a.connectable ? discoveryOf(a.serviceData) : undefined;
      if (d && matchDiscovery(nodePrims, [band.syncKey], d) === 0) heard(a.id);
    });
    const nextAdvert = () =>
      Promise.race([
        new Promise<string>((resolve) => (heard = resolve)),
        clock.sleep(Math.max(0, deadline - clock.now())).then(() => undefined),
      ]);
    let lastError = "it sent no discovery advert";
    try {
      while (clock.now() < deadline) {
        const id = await nextAdvert();
        if (id === undefined) break;
        let link: BandLink;
        try {
          // A band takes connections only while its discovery burst is on air: connect at once.
          link = await radio.connect(id, 5000);
        } catch (e) {
          lastError = `connecting failed: ${(e as Error).message}`;
          continue;
        }
        const session = new BandSession(link, band.syncKey, clock, replyBudgetMs(DEFAULT_REPLY_MS, band.board));
        try {
          await session.authenticate();
          const status = await session.status();
          const problems = statusProblems(status, band.board, Math.round(clock.now() / 1000));
          return { ok: problems.length === 0, problems, status, seconds: seconds() };
        } catch (e) {
          lastError = (e as Error).message;
        } finally {
          await session.close().catch(() => undefined);
        }
      }
    } finally {
      await radio.stopScan().catch(() => undefined);
    }
    return {
      ok: false,
      problems: [`no healthy answer within ${timeoutMs / 1000} s (${lastError})`],
      seconds: seconds(),
    };
  };
}

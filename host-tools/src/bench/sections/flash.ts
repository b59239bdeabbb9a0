import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadBoard } from "../../boards/load";
import { ROOT } from "../../build/paths";
import { DEFAULT_DEPLOYMENT } from "../../flash/deployment";
import { BandLabel, writeLabelSheet } from "../../flash/labels";
import { firmwareLabel, flashBand, FlashResult } from "../../flash/provision";
import { FileSink } from "../../flash/registry";
import { SimStation } from "../../flash/station";
import { BenchSection } from "../types";

/**
 * The flasher's speed on simulated bands fresh from the box (issue 14's targets), through the same code a technician
 * runs: the npm `espruino` package over a simulated USB serial port at 115200 baud (8N1, modelled in real time),
 * the package's own pacing of Storage writes, CRC-32 read back, registration in a registry file, restart, and the
 * health check over the simulator's Bluetooth (waiting for the band's discovery burst, every 4-6 s).
 * - one band: flash + verify + health check <= 20 s;
 * - a batch of 20 with the label sheet <= 5 min (each band's health check runs while the next one is flashed).
 */
/** A board with a serial console (the target's link), and one reached over Bluetooth only. */
const BOARD = "mdbt42q";
const BLE_BOARD = "puckjs";
const ONE_TARGET_S = 20;
const BATCH_TARGET_S = 300;

interface FlashBenchResult {
  pass: boolean;
  quick: boolean;
  board: string;
  one: { seconds: number; steps: Record<string, number>; healthy: boolean };
  bluetooth: { board: string; seconds: number; steps: Record<string, number>; healthy: boolean };
  batch: { bands: number; seconds: number; healthy: number; perBandS: number; target: number | null };
}

async function batch(n: number, dir: string): Promise<{ seconds: number; healthy: number }> {
  const st = new SimStation(BOARD, n, { seed: 20 });
  await st.start();
  const reg = new FileSink(path.join(dir, "batch.json"));
  const bundle = new Uint8Array(fs.readFileSync(path.join(ROOT, "dist", BOARD, "tracelet.js")));
  const t0 = Date.now();
  const results: FlashResult[] = [];
  try {
    for (let port = await st.next(); port; port = await st.next()) {
      results.push(
        await flashBand({
          port,
          board: loadBoard(BOARD),
          bundle,
          firmwareVersion: firmwareLabel(BOARD),
          deployment: DEFAULT_DEPLOYMENT,
          registry: reg,
          health: st.health,
          now: () => st.now(),
          healthInBackground: true,
        }),
      );
    }
    for (const r of results) r.health = await (r.healthDone as Promise<FlashResult["health"]>);
    const date = new Date(st.now()).toISOString().slice(0, 10);
    const labels: BandLabel[] = results.map((r) => ({
      bandId: r.bandId,
      board: BOARD,
      boardName: loadBoard(BOARD).name,
      firmware: r.firmwareVersion,
      date,
    }));
    writeLabelSheet(path.join(dir, "labels.svg"), labels, { title: "bench batch" });
  } finally {
    st.stop();
  }
  return { seconds: (Date.now() - t0) / 1000, healthy: results.filter((r) => r.health.ok).length };
}

/** One band of `board` fresh from the box, over the board's own console link, health check waited for. */
async function single(board: string, dir: string): Promise<FlashResult> {
  const st = new SimStation(board, 1, { seed: 19 });
  await st.start();
  try {
    return await flashBand({
      port: (await st.next()) as string,
      board: loadBoard(board),
      bundle: new Uint8Array(fs.readFileSync(path.join(ROOT, "dist", board, "tracelet.js"))),
      firmwareVersion: firmwareLabel(board),
      deployment: DEFAULT_DEPLOYMENT,
      registry: new FileSink(path.join(dir, `one-${board}.json`)),
      health: st.health,
      now: () => st.now(),
    });
  } finally {
    st.stop();
  }
}

export const flashSection: BenchSection = {
  name: "flash",
  description: "flasher: one simulated band over 115200-baud serial, and a batch of 20 with labels",
  run: async (opts) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-bench-flash-"));
    try {
      const one = await single(BOARD, dir);
      const ble = await single(BLE_BOARD, dir);
      const n = opts.quick ? 3 : 20;
      const b = await batch(n, dir);
      const result: FlashBenchResult = {
        quick: !!opts.quick,
        board: BOARD,
        one: { seconds: one.seconds.total, steps: one.seconds, healthy: one.health.ok },
        bluetooth: { board: BLE_BOARD, seconds: ble.seconds.total, steps: ble.seconds, healthy: ble.health.ok },
        batch: {
          bands: n,
          seconds: b.seconds,
          healthy: b.healthy,
          perBandS: b.seconds / n,
          target: opts.quick ? null : BATCH_TARGET_S,
        },
        pass:
          one.health.ok &&
          ble.health.ok &&
          one.seconds.total <= ONE_TARGET_S &&
          b.healthy === n &&
          (opts.quick || b.seconds <= BATCH_TARGET_S),
      };
      return result;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  figures: (raw) => {
    const r = raw as FlashBenchResult;
    const how = "simulator: espruino package over simulated 115200-baud serial, real time";
    return [
      {
        board: r.board,
        figure: "one band: flash + verify + health check (s)",
        target: `<= ${ONE_TARGET_S}`,
        measured: `${r.one.seconds.toFixed(1)} (firmware ${r.one.steps.firmware.toFixed(1)}, health ${r.one.steps.health.toFixed(1)})`,
        pass: r.one.healthy && r.one.seconds <= ONE_TARGET_S,
        method: how,
      },
      {
        board: r.bluetooth.board,
        figure: "one band over Bluetooth: flash + verify + health check (s)",
        target: "- (the target's link is serial)",
        measured: `${r.bluetooth.seconds.toFixed(1)} (firmware ${r.bluetooth.steps.firmware.toFixed(1)}, health ${r.bluetooth.steps.health.toFixed(1)})`,
        pass: r.bluetooth.healthy ? null : false,
        method: "simulator: espruino package over the simulated Nordic UART (20-byte writes with response), real time",
      },
      {
        board: r.board,
        figure: `batch of ${r.batch.bands} with labels (s)`,
        target: r.batch.target === null ? "- (quick)" : `<= ${r.batch.target}`,
        measured: `${r.batch.seconds.toFixed(0)} (${r.batch.perBandS.toFixed(1)} per band, ${r.batch.healthy}/${r.batch.bands} healthy)`,
        pass: r.batch.healthy === r.batch.bands && (r.batch.target === null || r.batch.seconds <= r.batch.target),
        method: how + "; health checks overlap the next band's flashing",
      },
    ];
  },
};

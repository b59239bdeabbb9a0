import { loadAllBoards } from "../../boards/load";
import { bundleFirmware } from "../../build/build";
import { BenchFigure, BenchSection } from "../types";

/** Per board: production and dev bundle bytes against the board's bundle budget (built in memory, not written). */
export const firmwareBundlesSection: BenchSection = {
  name: "firmware-bundles",
  description: "firmware bundle bytes per board (production and --dev) against boards/<id>.json bundleBudgetBytes",
  run: async () => {
    const boards = await Promise.all(
      loadAllBoards().map(async (board) => {
        const [prod, dev] = await Promise.all([bundleFirmware(board), bundleFirmware(board, { dev: true })]);
        return {
          board: board.id,
          bytes: prod.bytes,
          devBytes: dev.bytes,
          budgetBytes: board.bundleBudgetBytes,
          budgetPercent: Math.round((prod.bytes / board.bundleBudgetBytes) * 1000) / 10,
          withinBudget: prod.bytes <= board.bundleBudgetBytes,
        };
      }),
    );
    return { boards, pass: boards.every((b) => b.withinBudget) };
  },
  figures: (result) =>
    (
      result as {
        boards: { board: string; bytes: number; devBytes: number; budgetBytes: number; withinBudget: boolean }[];
      }
    ).boards.map((b): BenchFigure => ({
      board: b.board,
      figure: "bundle bytes",
      target: `<= ${b.budgetBytes}`,
      measured: String(b.bytes),
      pass: b.withinBudget,
      method: `production bundle built in memory by esbuild (--dev: ${b.devBytes} bytes)`,
    })),
};

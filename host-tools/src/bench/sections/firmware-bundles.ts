import { loadAllBoards } from "../../boards/load";
import { bundleFirmware } from "../../build/build";
import { pretokenise } from "../../build/pretokenise";
import { BenchFigure, BenchSection } from "../types";

/** Per board: production and dev bundle bytes against the board's bundle budget (built in memory, not written). */
export const firmwareBundlesSection: BenchSection = {
  name: "firmware-bundles",
  description:
    "flashed (pretokenised) firmware bundle bytes per board (production and --dev) against boards/<id>.json bundleBudgetBytes",
  run: async () => {
    const boards = await Promise.all(
      loadAllBoards().map(async (board) => {
        const [prod, dev] = await Promise.all([bundleFirmware(board), bundleFirmware(board, { dev: true })]);
        const bytes = pretokenise(prod.code).length;
        return {
          board: board.id,
          bytes,
          plainBytes: prod.bytes,
          devBytes: pretokenise(dev.code).length,
          budgetBytes: board.bundleBudgetBytes,
          budgetPercent: Math.round((bytes / board.bundleBudgetBytes) * 1000) / 10,
          withinBudget: bytes <= board.bundleBudgetBytes,
        };
      }),
    );
    return { boards, pass: boards.every((b) => b.withinBudget) };
  },
  figures: (result) =>
    (
      result as {
        boards: {
          board: string;
          bytes: number;
          plainBytes: number;
          devBytes: number;
          budgetBytes: number;
          withinBudget: boolean;
        }[];
      }
    ).boards.map((b): BenchFigure => ({
      board: b.board,
      figure: "bundle bytes",
      target: `<= ${b.budgetBytes}`,
      measured: String(b.bytes),
      pass: b.withinBudget,
      method: `production bundle built in memory, pretokenised as flashed (plain ${b.plainBytes} B; --dev ${b.devBytes} B)`,
    })),
};

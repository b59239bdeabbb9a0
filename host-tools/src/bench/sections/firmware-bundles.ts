import { loadAllBoards } from "../../boards/load";
import { bundleFirmware } from "../../build/build";
import { BenchSection } from "../types";

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
};

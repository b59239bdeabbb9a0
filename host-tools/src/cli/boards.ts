import { Command } from "commander";
import * as path from "path";
import { BOARDS_DIR, BoardError, boardJsonSchema, loadAllBoards, loadBoard } from "../boards/load";
import { BoardProfile } from "../boards/profile";
import { CliError, ExitCode } from "./exit-codes";
import { writeOutputFile } from "./files";
import { emit } from "./output";

interface BoardsOptions {
  json?: boolean;
  board?: string;
  writeSchema?: boolean;
}

/** `tracelet boards`: lists the supported board profiles (validated), or one in full. */
export function registerBoards(program: Command): void {
  program
    .command("boards")
    .description("list supported boards, validated against the board profile schema")
    .option("--board <id>", "show one board's full profile")
    .option("--write-schema", "regenerate boards/schema.json from the TypeScript definition")
    .option("--json", "machine-readable output on stdout")
    .action((opts: BoardsOptions) => {
      try {
        if (opts.writeSchema) {
          const file = path.join(BOARDS_DIR, "schema.json");
          writeOutputFile(file, JSON.stringify(boardJsonSchema(), null, 2) + "\n", "board schema");
          emit(opts, { schema: file }, () => `wrote ${file}`);
          return;
        }
        if (opts.board) {
          const b = loadBoard(opts.board);
          emit(opts, b, () => JSON.stringify(b, null, 2));
          return;
        }
        const boards = loadAllBoards();
        const idWidth = Math.max(...boards.map((b) => b.id.length));
        emit(opts, boards, () => boards.map((b) => summary(b, idWidth)).join("\n"));
      } catch (err) {
        if (err instanceof BoardError) throw new CliError(ExitCode.BOARD, err.message);
        throw err;
      }
    });
}

function summary(b: BoardProfile, idWidth: number): string {
  const crypto = Object.entries(b.crypto)
    .filter(([, v]) => v)
    .map(([k]) => k)
    .join(",");
  return `${b.id.padEnd(idWidth)} ${b.name.padEnd(48)} jsvars=${b.jsVars} storage=${b.storageBytes} log=${b.logBudgetBytes} mtu=${b.mtu} crypto=${crypto || "none"}`;
}

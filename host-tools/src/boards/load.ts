import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { BoardProfile, BoardProfileSchema } from "./profile";

export const BOARDS_DIR = path.resolve(__dirname, "..", "..", "..", "boards");

/** Thrown for an unknown or invalid board; the CLI maps it to ExitCode.BOARD. */
export class BoardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BoardError";
  }
}

export function listBoardIds(dir: string = BOARDS_DIR): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json") && f !== "schema.json")
    .map((f) => f.slice(0, -5))
    .sort();
}

export function loadBoard(id: string, dir: string = BOARDS_DIR): BoardProfile {
  const known = listBoardIds(dir);
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(id) || !known.includes(id)) {
    throw new BoardError(`unknown board "${id}" (known boards: ${known.join(", ")})`);
  }
  const file = path.join(dir, `${id}.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new BoardError(`board profile ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return validateBoard(raw, file, id);
}

export function validateBoard(raw: unknown, source: string, expectedId?: string): BoardProfile {
  const parsed = BoardProfileSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first.path.length ? first.path.join(".") : "(root)";
    throw new BoardError(`invalid board profile ${source}: ${where}: ${first.message}`);
  }
  if (expectedId !== undefined && parsed.data.id !== expectedId) {
    throw new BoardError(`invalid board profile ${source}: id "${parsed.data.id}" does not match file name`);
  }
  return parsed.data;
}

export function loadAllBoards(dir: string = BOARDS_DIR): BoardProfile[] {
  return listBoardIds(dir).map((id) => loadBoard(id, dir));
}

/** The JSON Schema of board profiles, generated from the zod definition. */
export function boardJsonSchema(): unknown {
  return z.toJSONSchema(BoardProfileSchema, { io: "input" });
}

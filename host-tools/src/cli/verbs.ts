import { Command } from "commander";
import { registerAuthority } from "./authority";
import { registerBoards } from "./boards";
import { registerCrypto } from "./crypto";

/** One line per verb: every verb file exports a register function that adds its sub-command. */
export function registerVerbs(program: Command): void {
  registerAuthority(program);
  registerBoards(program);
  registerCrypto(program);
}

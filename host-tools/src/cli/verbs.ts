import { Command } from "commander";
import { registerAuthority } from "./authority";
import { registerBench } from "./bench";
import { registerBoards } from "./boards";
import { registerBuild } from "./build";
import { registerCrypto } from "./crypto";
import { registerDemo } from "./demo";
import { registerFlash } from "./flash";
import { registerKiosk } from "./kiosk";
import { registerSimulate } from "./simulate";

/** One line per verb: every verb file exports a register function that adds its sub-command. */
export function registerVerbs(program: Command): void {
  registerAuthority(program);
  registerBench(program);
  registerBoards(program);
  registerBuild(program);
  registerCrypto(program);
  registerDemo(program);
  registerFlash(program);
  registerKiosk(program);
  registerSimulate(program);
}

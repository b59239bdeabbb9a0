import * as fs from "fs";
import * as path from "path";
import {
  BOARDS_DIR,
  BoardError,
  boardJsonSchema,
  loadAllBoards,
  loadBoard,
  validateBoard,
} from "../../host-tools/src/boards/load";
import { runCli } from "../helpers/cli";

describe("board profiles", () => {
  it("has the four supported boards, all valid", () => {
    expect(loadAllBoards().map((b) => b.id)).toEqual(["banglejs2", "mdbt42q", "pixljs", "puckjs"]);
  });
  it("carries the figures from ESPRUINO.md", () => {
    const puck = loadBoard("puckjs");
    expect(puck.jsVars).toBe(2630);
    expect(puck.storageBytes).toBe(40 * 1024);
    expect(puck.crypto).toEqual({ sha1: true, sha256: true, aesEcb: true, aesCcm: false });
    expect(loadBoard("banglejs2").mtu).toBe(131);
    expect(loadBoard("pixljs").crypto.sha256).toBe(false);
  });
  it("rejects an unknown board with the list of known ones", () => {
    expect(() => loadBoard("esp32")).toThrow(BoardError);
    expect(() => loadBoard("esp32")).toThrow(/known boards: banglejs2, mdbt42q, pixljs, puckjs/);
    expect(() => loadBoard("../package")).toThrow(/unknown board/);
  });
  it.each([
    ["missing field", (b: Record<string, unknown>) => delete b.jsVars, /jsVars/],
    ["wrong type", (b: Record<string, unknown>) => (b.mtu = "53"), /mtu/],
    ["unknown field", (b: Record<string, unknown>) => (b.colour = "red"), /colour|Unrecognized/],
    [
      "log budget not whole pages",
      (b: Record<string, unknown>) => (b.logBudgetBytes = 5000),
      /whole number of flash pages/,
    ],
    ["budgets over storage", (b: Record<string, unknown>) => (b.logBudgetBytes = 40960), /exceed storageBytes/],
  ])("rejects a profile with a %s", (_name, mutate, message) => {
    const raw = JSON.parse(fs.readFileSync(path.join(BOARDS_DIR, "puckjs.json"), "utf8"));
    mutate(raw);
    expect(() => validateBoard(raw, "puckjs.json")).toThrow(message);
  });
  it("keeps boards/schema.json generated from the TypeScript definition", () => {
    const onDisk = JSON.parse(fs.readFileSync(path.join(BOARDS_DIR, "schema.json"), "utf8"));
    expect(onDisk).toEqual(boardJsonSchema());
  });
  it("lists boards as JSON through the CLI and fails clearly for an unknown one", () => {
    const r = runCli(["boards", "--json"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).map((b: { id: string }) => b.id)).toContain("mdbt42q");
    const bad = runCli(["boards", "--board", "nope"]);
    expect(bad.status).toBe(4);
    expect(bad.stderr).toMatch(/unknown board "nope"/);
  });
});

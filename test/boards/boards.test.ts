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
import { storagePlan } from "../../host-tools/src/boards/storage";
import { LOG_FILE_STRIDE, LOG_FILE_UNITS } from "../../firmware/src/tuning";
import { runCli } from "../helpers/cli";

describe("board profiles", () => {
  it("has the five supported boards, all valid", () => {
    expect(loadAllBoards().map((b) => b.id)).toEqual(["banglejs2", "mdbt42q", "pixljs", "puckjs", "puckjs-minimal"]);
  });
  it("carries the figures from ESPRUINO.md", () => {
    const puck = loadBoard("puckjs");
    expect(puck.jsVars).toBe(2630);
    expect(puck.storageBytes).toBe(40 * 1024);
    expect(puck.crypto).toEqual({ sha1: true, sha256: true, aesEcb: true, aesCcm: false });
    expect(loadBoard("banglejs2").mtu).toBe(131);
    expect(loadBoard("pixljs").crypto.sha256).toBe(false);
  });
  it("puckjs-minimal: Espruino's puckjs_minimal build (boards/PUCKJS_MINIMAL.py) on Puck.js hardware", () => {
    const min = loadBoard("puckjs-minimal");
    const puck = loadBoard("puckjs");
    expect(min.espruinoBoard).toBe("PUCKJS_MINIMAL");
    expect(min.jsVars).toBe(2630);
    // 24 pages of 4096 bytes of Storage, no crypto module at all.
    expect(min.storageBytes).toBe(24 * 4096);
    expect(min.crypto).toEqual({ sha1: false, sha256: false, aesEcb: false, aesCcm: false });
    // The same hardware as puckjs.
    for (const k of ["mtu", "radio", "currentUa", "battery", "rtcPpm", "buttons", "leds", "console"] as const)
      expect(min[k]).toEqual(puck[k]);
    // 21 days of a care home (~165 units a day) in the log with one file lost.
    const plan = storagePlan(min, min.bundleBudgetBytes);
    expect((plan.logFiles - 1) * LOG_FILE_UNITS).toBeGreaterThanOrEqual(21 * 165);
    // Beside a bundle at its full budget, the provisioning record and both journals: a log file and a stale journal
    // copy waiting for compaction still fit.
    expect(plan.spare).toBeGreaterThanOrEqual(LOG_FILE_STRIDE + plan.journals / 2);
  });
  it("rejects an unknown board with the list of known ones", () => {
    expect(() => loadBoard("esp32")).toThrow(BoardError);
    expect(() => loadBoard("esp32")).toThrow(/known boards: banglejs2, mdbt42q, pixljs, puckjs, puckjs-minimal/);
    expect(() => loadBoard("../package")).toThrow(/unknown board/);
    expect(() => loadBoard("puckjs-")).toThrow(/unknown board/);
  });
  it.each([
    ["missing field", (b: Record<string, unknown>) => delete b.jsVars, /jsVars/],
    ["wrong type", (b: Record<string, unknown>) => (b.mtu = "53"), /mtu/],
    ["unknown field", (b: Record<string, unknown>) => (b.colour = "red"), /colour|Unrecognized/],
    [
      "log budget not whole log files",
      (b: Record<string, unknown>) => (b.logBudgetBytes = 5000),
      new RegExp(`whole number of ${LOG_FILE_STRIDE}-byte log files`),
    ],
    ["log budget over storage", (b: Record<string, unknown>) => (b.logBudgetBytes = 43008), /exceed storageBytes/],
    ["id that is not lower-case words joined by hyphens", (b: Record<string, unknown>) => (b.id = "Puck_JS"), /id/],
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

import * as fs from "fs";
import { runCli } from "../helpers/cli";
import { VECTORS } from "../helpers/paths";

const v = JSON.parse(fs.readFileSync(VECTORS, "utf8"));

describe("tracelet crypto rpi", () => {
  it.each([0, 1, 77, 143])("matches the official vector for interval index %i", (i) => {
    const iv = v.intervals[i];
    const r = runCli([
      "crypto",
      "rpi",
      "--tek",
      v.tek,
      "--interval",
      String(iv.intervalNumber),
      "--metadata",
      v.metadata,
      "--json",
    ]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ rpi: iv.rpi, aem: iv.aem });
  });
  it("defaults metadata to version 0x40, tx power 0", () => {
    const withDefault = runCli(["crypto", "rpi", "--tek", v.tek, "--interval", "2642976", "--json"]);
    const explicit = runCli([
      "crypto",
      "rpi",
      "--tek",
      v.tek,
      "--interval",
      "2642976",
      "--metadata",
      "40000000",
      "--json",
    ]);
    expect(withDefault.status).toBe(0);
    expect(withDefault.stdout).toBe(explicit.stdout);
    expect(JSON.parse(withDefault.stdout).rpi).toBe(v.intervals[0].rpi);
  });
  it.each([
    [["--tek", "xyz", "--interval", "1"], "--tek"],
    [["--tek", "00".repeat(15), "--interval", "1"], "32 digits"],
    [["--tek", v.tek, "--interval", "-4"], "--interval"],
    [["--tek", v.tek, "--interval", "1", "--metadata", "4000"], "--metadata"],
  ])("fails with a one-line reason for %j", (args, reason) => {
    const r = runCli(["crypto", "rpi", ...args, "--json"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(reason);
  });
  it("exits with the usage code when a required flag is missing", () => {
    const r = runCli(["crypto", "rpi", "--interval", "1"]);
    expect(r.status).toBe(2);
  });
});

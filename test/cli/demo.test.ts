import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runCli } from "../helpers/cli";
import { ROOT } from "../helpers/paths";

describe("tracelet demo", () => {
  it("builds every board and runs the flashed bundle on a simulated care home without faults, from a subfolder", () => {
    // A report folder that does not exist yet is created; the run starts in a subfolder of the project.
    const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-demo-")), "new", "demo.html");
    const r = runCli(["demo", "--bands", "4", "--hours", "3", "--report", report, "--json"], {
      cwd: path.join(ROOT, "host-tools"),
    });
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.firmware.map((f: { board: string }) => f.board).sort()).toEqual([
      "banglejs2",
      "mdbt42q",
      "pixljs",
      "puckjs",
      "puckjs-minimal",
    ]);
    expect(out.simulation.faults.count).toBe(0);
    expect(out.simulation.detection.recordsDecoded).toBeGreaterThan(0);
    expect(fs.readFileSync(report, "utf8")).toMatch(/<svg/);
  });
  it("refuses a nonsense band count with a usage error", () => {
    const r = runCli(["demo", "--bands", "one"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--bands/);
  });
});

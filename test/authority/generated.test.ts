import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../helpers/paths";

const DIR = path.join(ROOT, "host-tools", "src", "authority", "f1");

test("sha256-compress.generated.ts is up to date with its generator", () => {
  // In a child process: prettier 3 loads its plugins with dynamic import, which jest's VM does not allow.
  const r = spawnSync(
    process.execPath,
    ["-r", "esbuild-register", path.join(DIR, "gen-sha256-compress.ts"), "--print"],
    {
      cwd: ROOT,
      encoding: "utf8",
    },
  );
  expect(r.status).toBe(0);
  expect(fs.readFileSync(path.join(DIR, "sha256-compress.generated.ts"), "utf8")).toBe(r.stdout);
});

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../../host-tools/src/build/paths";
import { FIRMWARE_TSCONFIG, typecheckFirmware } from "../../host-tools/src/build/typecheck";

const MISUSE = path.join(ROOT, "test", "fixtures", "gate", "typecheck", "misuse.ts");

describe("firmware type check (Espruino-only declarations)", () => {
  test("the firmware type-checks", () => {
    const r = typecheckFirmware();
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
  });

  test("Map, Set, Symbol, DOM, Node and missing built-ins are compile errors", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-tc-"));
    try {
      const tsconfig = path.join(dir, "tsconfig.json");
      fs.writeFileSync(
        tsconfig,
        JSON.stringify({ extends: FIRMWARE_TSCONFIG, include: [MISUSE, path.join(ROOT, "firmware", "types")] }),
      );
      const r = typecheckFirmware(tsconfig);
      const errorLines = new Set(
        r.errors.map((e) => Number(/misuse\.ts\((\d+),\d+\)/.exec(e)?.[1])).filter((n) => !Number.isNaN(n)),
      );
      const lines = fs.readFileSync(MISUSE, "utf8").split("\n");
      const marked = lines.flatMap((l, i) => (/\/\/ ERROR /.test(l) ? [i + 1] : []));
      expect(marked.length).toBe(9);
      expect([...errorLines].sort((a, b) => a - b)).toEqual(marked);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

import * as acorn from "acorn";
import { ESPRUINO_SHORT_GLOBALS } from "../../host-tools/src/build/esbuild-options";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BoardError, loadAllBoards, loadBoard } from "../../host-tools/src/boards/load";
import { BuildError, buildBoard, bundleFirmware } from "../../host-tools/src/build/build";
import { buildConstants } from "../../host-tools/src/build/defines";
import { ROOT } from "../../host-tools/src/build/paths";
import { runCli } from "../helpers/cli";

const FIXTURES = path.join(ROOT, "test", "fixtures", "gate");
const FOLDING = path.join(FIXTURES, "folding.ts");

describe("firmware build", () => {
  let out: string;
  beforeAll(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-build-"));
  });
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  test("board constants fold: each board keeps only the crypto branch it can run", async () => {
    for (const board of loadAllBoards()) {
      const { code } = await bundleFirmware(board, { entry: FOLDING });
      expect(code).toContain(board.crypto.aesEcb ? "uses-native-aes" : "uses-pure-aes");
      expect(code).not.toContain(board.crypto.aesEcb ? "uses-pure-aes" : "uses-native-aes");
      expect(code).toContain(`print("${board.id}",${board.mtu},`);
      expect(code).not.toMatch(/__[A-Z_]+__/);
    }
  });

  test("--dev keeps what production drops", async () => {
    const board = loadBoard("puckjs");
    expect((await bundleFirmware(board, { entry: FOLDING })).code).not.toContain("dev-console-kept");
    expect((await bundleFirmware(board, { entry: FOLDING, dev: true })).code).toContain("dev-console-kept");
  });

  test("Espruino's built-in modules stay plain require() calls in a plain script", async () => {
    const { code } = await bundleFirmware(loadBoard("pixljs"), { entry: FOLDING });
    // Not wrapped in a function: Espruino charges every function defined inside another a scope link.
    expect(code.startsWith("(function")).toBe(false);
    expect(code).toContain('require("Storage")');
    expect(code).not.toMatch(/__require|Proxy|module\.exports|\bexports\b/);
  });

  test("the real firmware's top-level names never take an Espruino global's (E, g, fs, pins)", async () => {
    for (const board of loadAllBoards()) {
      const { code } = await bundleFirmware(board);
      const program = acorn.parse(code, { ecmaVersion: "latest", sourceType: "script" });
      const names: string[] = [];
      for (const st of program.body) {
        if (st.type === "FunctionDeclaration") names.push(st.id.name);
        if (st.type === "VariableDeclaration")
          for (const d of st.declarations) if (d.id.type === "Identifier") names.push(d.id.name);
      }
      // Enough names that the minifier would have used one- and two-character names, `g` among them.
      expect(names.length).toBeGreaterThan(200);
      for (const n of ESPRUINO_SHORT_GLOBALS) expect(names).not.toContain(n);
    }
  });

  test("the real firmware requires nothing but Espruino built-in modules", async () => {
    for (const board of loadAllBoards()) {
      const { code } = await bundleFirmware(board);
      const required = [...code.matchAll(/\brequire\(([^)]*)\)/g)].map((m) => m[1]);
      for (const r of required) expect(['"Storage"', '"crypto"']).toContain(r);
      expect(code).toContain('require("Storage")');
      expect(code).not.toMatch(/__require|__toESM|__commonJS/);
    }
  });

  test("every build constant is declared for the firmware type check, and nothing else is", () => {
    const declared = [
      ...fs
        .readFileSync(path.join(ROOT, "firmware", "types", "build-constants.d.ts"), "utf8")
        .matchAll(/^declare const (__[A-Z0-9_]+__):/gm),
    ].map((m) => m[1]);
    const defined = Object.keys(buildConstants(loadBoard("puckjs"), { dev: false, firmwareVersion: "1" }));
    expect(declared.sort()).toEqual(defined.sort());
  });

  test("buildBoard writes the bundle, its source map and build.json", async () => {
    const r = await buildBoard("banglejs2", { entry: FOLDING, outDir: out, quiet: true, typecheck: false });
    expect(r).toMatchObject({ board: "banglejs2", dev: false, budgetBytes: 65536, violations: [] });
    expect(r.file).toBe(path.join(out, "banglejs2", "tracelet.js"));
    expect(fs.statSync(r.file).size).toBe(r.bytes);
    expect(r.budgetPercent).toBeCloseTo((r.bytes / 65536) * 100, 1);
    const map = JSON.parse(fs.readFileSync(r.mapFile, "utf8")) as { sources: string[] };
    expect(map.sources.some((s) => s.endsWith("test/fixtures/gate/folding.ts"))).toBe(true);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, "banglejs2", "build.json"), "utf8"));
    expect(manifest).toMatchObject({ board: "banglejs2", dev: false, bytes: r.bytes });
    expect(manifest.constants.__CRYPTO_AES_CCM__).toBe(true);
  });

  test("dialect violations fail the build and no tracelet.js is left behind", async () => {
    const entry = path.join(FIXTURES, "violations.ts");
    await buildBoard("puckjs", { entry: FOLDING, outDir: out, quiet: true, typecheck: false });
    const failed = buildBoard("puckjs", { entry, outDir: out, quiet: true, typecheck: false });
    await expect(failed).rejects.toThrow(BuildError);
    const err = (await failed.catch((e: unknown) => e)) as BuildError;
    expect(err.message).toBe("puckjs: 4 Espruino dialect violations");
    expect(err.details[0]).toMatch(/^test\/fixtures\/gate\/violations\.ts:5:18: \[missing-builtin\] Map/);
    expect(fs.existsSync(path.join(out, "puckjs", "tracelet.js"))).toBe(false);
    expect(fs.existsSync(path.join(out, "puckjs", "tracelet.rejected.js"))).toBe(true);
  });

  test("an entry that exports still builds a plain script: the build reaches it through a stub, exports unused", async () => {
    const entry = path.join(FIXTURES, "exports.ts");
    const r = await buildBoard("puckjs", { entry, outDir: out, quiet: true, typecheck: false });
    expect(r.violations).toEqual([]);
    const code = fs.readFileSync(path.join(out, "puckjs", "tracelet.plain.js"), "utf8");
    expect(code).not.toMatch(/module\.exports|\bexports\b|__export|__commonJS/);
  });

  test("with gate: report, violations come back in the result", async () => {
    const entry = path.join(FIXTURES, "violations.ts");
    const r = await buildBoard("banglejs2", { entry, outDir: out, quiet: true, typecheck: false, gate: "report" });
    expect(r.violations.map((v) => v.rule).sort()).toEqual([
      "loop-closure",
      "missing-builtin",
      "missing-builtin",
      "use-before-declaration",
    ]);
  });

  test("esbuild refusals name the TypeScript position", async () => {
    const entry = path.join(out, "destructure.ts");
    fs.writeFileSync(entry, "const o = { a: 1 };\nconst { a } = o;\nconsole.log(a);\n");
    const err = (await buildBoard("puckjs", { entry, outDir: out, quiet: true, typecheck: false }).catch(
      (e: unknown) => e,
    )) as BuildError;
    expect(err).toBeInstanceOf(BuildError);
    expect(err.details[0]).toMatch(/destructure\.ts:2:7: Transforming destructuring/);
  });

  test("an unknown board is a BoardError", async () => {
    await expect(buildBoard("nosuchboard", { quiet: true, typecheck: false })).rejects.toThrow(BoardError);
  });
});

describe("tracelet build (CLI)", () => {
  test("unknown board exits BOARD (4) with a one-line reason", () => {
    const r = runCli(["build", "--board", "nosuchboard", "--no-typecheck"]);
    expect(r.status).toBe(4);
    expect(r.stderr.trim().split("\n")).toEqual([
      'tracelet build: unknown board "nosuchboard" (known boards: banglejs2, mdbt42q, pixljs, puckjs, puckjs-minimal) (exit 4 BOARD)',
    ]);
  });

  test("needs exactly one of --board and --all", () => {
    expect(runCli(["build"]).status).toBe(2);
    expect(runCli(["build", "--all", "--board", "puckjs"]).status).toBe(2);
  });

  test("--json prints the result of a real board build", () => {
    const r = runCli(["build", "--board", "banglejs2", "--json", "--no-typecheck"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ board: "banglejs2", dev: false, file: "dist/banglejs2/tracelet.js" });
    expect(result.bytes).toBe(fs.statSync(path.join(ROOT, "dist", "banglejs2", "tracelet.js")).size);
  });
});

import remapping from "@ampproject/remapping";
import { createHash } from "crypto";
import * as esbuild from "esbuild";
import * as fs from "fs";
import * as path from "path";
import { loadAllBoards, loadBoard } from "../boards/load";
import { BoardProfile } from "../boards/profile";
import { storageProblem } from "../boards/storage";
import { BuildConstants, buildConstants, esbuildDefine } from "./defines";
import { GLOBALS_STUB, espruinoEsbuildOptions, espruinoMinifyOptions } from "./esbuild-options";
import { inlineSingleCalls } from "./inline";
import { GateViolation, checkEspruinoDialect, formatViolation } from "./gate";
import { pretokenise } from "./pretokenise";
import { DIST_DIR, FIRMWARE_ENTRY, ROOT } from "./paths";
import { typecheckFirmware } from "./typecheck";

/**
 * The firmware build: firmware/src/main.ts -> dist/<board>/tracelet.js (+ .map and build.json), one per board,
 * with the board's constants injected, type-checked against Espruino-only declarations, minified by esbuild and
 * checked by the Espruino dialect gate. The bundle written here is the one that is flashed, simulated and tested.
 */

export interface BuildOptions {
  /** Dev build: keeps the Bluetooth console (`__DEV__`). */
  dev?: boolean;
  /** No progress or warnings on stderr. */
  quiet?: boolean;
  /** Type-check the firmware first (default true; about 2 s, once per build run). */
  typecheck?: boolean;
  /** Entry file (default firmware/src/main.ts); tests build fixtures through the same pipeline. */
  entry?: string;
  /** Output root (default dist/). */
  outDir?: string;
  /** "fail" (default): dialect violations fail the build; "report": they are returned in the result. */
  gate?: "fail" | "report";
}

export interface BuildResult {
  board: string;
  dev: boolean;
  /** Absolute path of the bundle (dist/<board>/tracelet.js). */
  file: string;
  mapFile: string;
  /** Flashed (pretokenised) bytes. */
  bytes: number;
  budgetBytes: number;
  /** bytes as a percentage of the board's bundleBudgetBytes, one decimal. */
  budgetPercent: number;
  /** Dialect gate violations: always empty unless `gate: "report"`. */
  violations: GateViolation[];
  ms: number;
}

/** A failed build; `details` holds one line per problem (type errors, esbuild errors, gate violations). */
export class BuildError extends Error {
  constructor(
    message: string,
    readonly details: string[] = [],
    readonly violations: GateViolation[] = [],
    /** With buildAllBoards: the boards that did build. */
    readonly built: BuildResult[] = [],
  ) {
    super(message);
    this.name = "BuildError";
  }
}

export interface Bundle {
  board: BoardProfile;
  constants: BuildConstants;
  code: string;
  map: string;
  bytes: number;
  warnings: string[];
  /** The single-call functions written into their callers (inline.ts). */
  inlined: string[];
}

/** Bundles the firmware for one board in memory: no type check, gate or budget check, nothing written. */
export async function bundleFirmware(
  board: BoardProfile,
  opts: { dev?: boolean; entry?: string; outfile?: string } = {},
): Promise<Bundle> {
  const constants = buildConstants(board, { dev: opts.dev === true, firmwareVersion: firmwareVersion() });
  const outfile = opts.outfile ?? path.join(DIST_DIR, board.id, "tracelet.js");
  let result: esbuild.BuildResult;
  try {
    result = await esbuild.build(
      espruinoEsbuildOptions(opts.entry ?? FIRMWARE_ENTRY, outfile, esbuildDefine(constants), ROOT),
    );
  } catch (err) {
    const failure = err as esbuild.BuildFailure;
    const details = (failure.errors ?? []).map(esbuildMessage);
    throw new BuildError(
      `${board.id}: esbuild failed: ${details[0] ?? (err as Error).message}` +
        (details.length > 1 ? ` (+${details.length - 1} more)` : ""),
      details,
    );
  }
  const files = result.outputFiles ?? [];
  const js = files.find((f) => f.path.endsWith(".js"));
  const map = files.find((f) => f.path.endsWith(".map"));
  if (!js || !map) throw new BuildError(`${board.id}: esbuild produced no bundle`);
  const flat = inlineSingleCalls(js.text, map.text);
  let minified: esbuild.TransformResult;
  try {
    minified = await esbuild.transform(
      `${flat.code}\n${GLOBALS_STUB}\n`,
      espruinoMinifyOptions(path.basename(outfile)),
    );
  } catch (err) {
    const details = ((err as esbuild.TransformFailure).errors ?? []).map(esbuildMessage);
    throw new BuildError(
      `${board.id}: minifying the inlined bundle failed: ${details[0] ?? (err as Error).message}`,
      details,
    );
  }
  const code = minified.code;
  const composed = remapping([minified.map, flat.map], () => null);
  composed.file = path.basename(outfile);
  return {
    board,
    constants,
    code,
    map: composed.toString(),
    bytes: Buffer.byteLength(code),
    warnings: [...result.warnings, ...minified.warnings].map(esbuildMessage),
    inlined: flat.inlined,
  };
}

/** Builds one board: type check (unless disabled), bundle, dialect gate, budget; writes dist/<board>/. */
export async function buildBoard(boardId: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const board = loadBoard(boardId);
  if (opts.typecheck !== false) runTypecheck(opts);
  return buildLoadedBoard(board, opts);
}

/** Builds every board in boards/ (type check once); fails with every board's problems if any board fails. */
export async function buildAllBoards(opts: BuildOptions = {}): Promise<BuildResult[]> {
  const boards = loadAllBoards();
  if (opts.typecheck !== false) runTypecheck(opts);
  const settled = await Promise.allSettled(boards.map((b) => buildLoadedBoard(b, opts)));
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected").map((s) => s.reason);
  const built = settled
    .filter((s): s is PromiseFulfilledResult<BuildResult> => s.status === "fulfilled")
    .map((s) => s.value);
  if (failures.length) {
    const errors = failures.map((e) => (e instanceof BuildError ? e : new BuildError(String(e))));
    throw new BuildError(
      `${errors.length} of ${boards.length} boards failed: ${errors.map((e) => e.message).join("; ")}`,
      errors.flatMap((e) => e.details),
      errors.flatMap((e) => e.violations),
      built,
    );
  }
  return built;
}

function runTypecheck(opts: BuildOptions): void {
  const tc = typecheckFirmware();
  if (!opts.quiet) log(`firmware type check: ${tc.ok ? "ok" : tc.errors.length + " errors"} (${tc.ms} ms)`);
  if (!tc.ok) {
    throw new BuildError(
      `firmware type check failed: ${tc.errors[0]}` + (tc.errors.length > 1 ? ` (+${tc.errors.length - 1} more)` : ""),
      tc.errors,
    );
  }
}

async function buildLoadedBoard(board: BoardProfile, opts: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const outDir = path.join(opts.outDir ?? DIST_DIR, board.id);
  const file = path.join(outDir, "tracelet.js");
  const mapFile = file + ".map";
  const bundle = await bundleFirmware(board, { dev: opts.dev, entry: opts.entry, outfile: file });
  if (!opts.quiet) for (const w of bundle.warnings) log(`${board.id}: esbuild warning: ${w}`);

  const violations = checkEspruinoDialect(bundle.code, { sourceMap: bundle.map, sourceMapFile: mapFile, root: ROOT });
  // What is flashed: the gated bundle, pretokenised (pretokenise.ts); its size is what the budget counts.
  const flashed = pretokenise(bundle.code);
  const bytes = flashed.length;
  const budgetPercent = Math.round((bytes / board.bundleBudgetBytes) * 1000) / 10;
  const rejectedFile = path.join(outDir, "tracelet.rejected.js");

  const overBudget = bytes > board.bundleBudgetBytes;
  const storage = storageProblem(board, bytes);
  const gateFails = violations.length > 0 && opts.gate !== "report";
  fs.mkdirSync(outDir, { recursive: true });
  if (gateFails || overBudget || storage) {
    // Keep the rejected bundle for inspection, and never leave a stale tracelet.js that tests would load.
    writeAtomic(rejectedFile, bundle.code);
    writeAtomic(rejectedFile + ".map", bundle.map);
    removeIfExists(file);
    removeIfExists(mapFile);
    const details = gateFails ? violations.map((v) => describeViolation(v, rejectedFile)) : [];
    const reasons: string[] = [];
    if (gateFails) reasons.push(`${violations.length} Espruino dialect violation${violations.length === 1 ? "" : "s"}`);
    if (overBudget) {
      const budget = `bundle is ${bytes} bytes, ${budgetPercent}% of its ${board.bundleBudgetBytes}-byte budget`;
      reasons.push(budget);
      details.push(`${board.id}: ${budget} (boards/${board.id}.json bundleBudgetBytes)`);
    }
    if (storage) {
      reasons.push(storage);
      details.push(`${board.id}: ${storage}`);
    }
    throw new BuildError(`${board.id}: ${reasons.join(", ")}`, details, violations);
  }

  writeAtomic(file, Buffer.from(flashed));
  // The plain bundle the source map describes (detokenise(tracelet.js) gives it back byte for byte).
  writeAtomic(path.join(outDir, "tracelet.plain.js"), bundle.code);
  writeAtomic(mapFile, bundle.map);
  removeIfExists(rejectedFile);
  removeIfExists(rejectedFile + ".map");
  const manifest = {
    board: board.id,
    dev: opts.dev === true,
    firmwareVersion: bundle.constants.__FIRMWARE_VERSION__,
    bytes,
    plainBytes: bundle.bytes,
    budgetBytes: board.bundleBudgetBytes,
    sha256: createHash("sha256").update(flashed).digest("hex"),
    constants: bundle.constants,
  };
  writeAtomic(path.join(outDir, "build.json"), JSON.stringify(manifest, null, 2) + "\n");
  return {
    board: board.id,
    dev: opts.dev === true,
    file,
    mapFile,
    bytes,
    budgetBytes: board.bundleBudgetBytes,
    budgetPercent,
    violations,
    ms: Date.now() - started,
  };
}

function describeViolation(v: GateViolation, bundleFile: string): string {
  const line = formatViolation(v, path.relative(ROOT, bundleFile));
  // Without a source position the code is esbuild's own: a helper for a lowered construct or a module wrapper.
  return v.source ? line : line + " [no TypeScript source: code esbuild added, e.g. for an export from the entry]";
}

let cachedVersion: string | undefined;
/** package.json version: the firmware version a build reports. */
export function firmwareVersion(): string {
  if (cachedVersion === undefined) {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version?: string };
    cachedVersion = pkg.version ?? "0.0.0";
  }
  return cachedVersion;
}

function esbuildMessage(m: esbuild.Message): string {
  const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : "";
  return where + m.text;
}

/** Write then rename, so a test or simulator reading dist/ concurrently never sees half a file. */
function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

function removeIfExists(file: string): void {
  fs.rmSync(file, { force: true });
}

function log(line: string): void {
  process.stderr.write(line + "\n");
}

import type { BuildOptions, TransformOptions } from "esbuild";

/**
 * Modules built into the Espruino interpreter. `require("Storage")` in firmware source must reach the band as
 * written, so esbuild leaves these calls alone (external), and nothing else may be required at run time.
 */
export const ESPRUINO_BUILTIN_MODULES = ["Storage", "crypto", "heatshrink", "Flash"];

/**
 * Syntax esbuild must lower (or refuse) for Espruino: the recipe from shared/ESPRUINO.md, plus logical assignment
 * (`a ||= b`), which the interpreter is not documented to support and which esbuild's minifier would otherwise
 * introduce on its own. The dialect gate (gate.ts) checks the result.
 */
export const ESPRUINO_UNSUPPORTED_SYNTAX: Record<string, boolean> = {
  destructuring: false,
  "default-argument": false,
  "rest-argument": false,
  "array-spread": false,
  "optional-chain": false,
  "exponent-operator": false,
  "async-await": false,
  "async-generator": false,
  "for-await": false,
  generator: false,
  "class-field": false,
  "class-static-field": false,
  "logical-assignment": false,
  bigint: false,
  // Left as written (not lowered to WeakMap/WeakSet helpers) so the gate names the construct at its source line.
  "class-private-field": true,
  "class-private-method": true,
  "class-private-accessor": true,
  "class-private-static-field": true,
  "class-private-static-method": true,
  "class-private-static-accessor": true,
  "class-private-brand-check": true,
  "class-static-blocks": true,
};

/**
 * Espruino's own globals whose names esbuild's minifier could pick (it names top-level symbols with one or two
 * characters): found by asking the real interpreter (2v29) `typeof` of every one- and two-character name (`E`, `g`,
 * `fs`, pins `D0`-`D9`), plus the analog pins of the nRF52 boards (`A0`-`A9`, Espruino's board files).
 */
export const ESPRUINO_SHORT_GLOBALS = [
  "E",
  "g",
  "fs",
  ...Array.from({ length: 10 }, (_, i) => `D${i}`),
  ...Array.from({ length: 10 }, (_, i) => `A${i}`),
];

/**
 * The bundle is a plain script: its declarations live in Espruino's root scope. A function defined inside another
 * function keeps a link to that scope (one JsVar more each, measured in the real interpreter: 100 functions cost
 * 416 variables at the root, 518 inside a wrapper), so the bundle is not wrapped in a function. Its minified
 * top-level names must then stay clear of Espruino's globals: the entry is reached through a stub whose dead code
 * names them, and esbuild's minifier never reuses a name the program refers to as a global (the branch itself is
 * dropped: no bytes). CommonJS output keeps `require("Storage")` calls as written (esbuild's `iife` format would
 * route them through a shim that needs `Proxy`).
 */
export function entryStub(entry: string): string {
  return `import ${JSON.stringify(entry)};
${GLOBALS_STUB}
`;
}

/** Dead code that names Espruino's short globals, so the minifier leaves them alone (see entryStub). */
export const GLOBALS_STUB = `if (false) { ${ESPRUINO_SHORT_GLOBALS.join("; ")}; }`;

export function espruinoEsbuildOptions(
  entry: string,
  outfile: string,
  define: Record<string, string>,
  workingDir: string,
): BuildOptions {
  return {
    absWorkingDir: workingDir,
    stdin: { contents: entryStub(entry), resolveDir: workingDir, sourcefile: "tracelet-entry.js", loader: "js" },
    outfile,
    bundle: true,
    write: false,
    format: "cjs",
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "es2020",
    supported: ESPRUINO_UNSUPPORTED_SYNTAX,
    external: ESPRUINO_BUILTIN_MODULES,
    define,
    // Names and whitespace are minified after the single-call functions are inlined (inline.ts,
    // espruinoMinifyOptions); syntax here, where esbuild still sees the modules (constants inlined across them,
    // `const` as `let`, dead branches dropped).
    minifySyntax: true,
    sourcemap: "external",
    sourcesContent: true,
    legalComments: "none",
    charset: "ascii",
    // The firmware's own tsconfig is for tsc; esbuild only needs class fields as constructor assignments.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
    logLevel: "silent",
  };
}

/**
 * The second esbuild pass: minifies the bundle once its single-call functions are inlined (build/inline.ts).
 * `format: "cjs"` lets the minifier rename top-level names; GLOBALS_STUB, appended to the bundle, names Espruino's
 * globals again (the first pass dropped the entry stub's dead branch), so none of them is reused.
 */
export function espruinoMinifyOptions(sourcefile: string): TransformOptions {
  return {
    sourcefile,
    format: "cjs",
    target: "es2020",
    supported: ESPRUINO_UNSUPPORTED_SYNTAX,
    minify: true,
    sourcemap: "external",
    legalComments: "none",
    charset: "ascii",
    logLevel: "silent",
  };
}

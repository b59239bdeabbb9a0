import type { BuildOptions } from "esbuild";

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
 * The bundle is a plain script wrapped in a function so its minified top-level names stay out of Espruino's global
 * scope (where `E`, `NRF`, `g`, `LED1` live). esbuild's own `iife` format would route external `require` calls
 * through a shim that needs `Proxy`; CommonJS output keeps them as plain `require("Storage")` calls.
 */
export const BUNDLE_PROLOGUE = "(function(){";
export const BUNDLE_EPILOGUE = "})();";

export function espruinoEsbuildOptions(
  entry: string,
  outfile: string,
  define: Record<string, string>,
  workingDir: string,
): BuildOptions {
  return {
    absWorkingDir: workingDir,
    entryPoints: [entry],
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
    minify: true,
    sourcemap: "external",
    sourcesContent: true,
    legalComments: "none",
    charset: "ascii",
    banner: { js: BUNDLE_PROLOGUE },
    footer: { js: BUNDLE_EPILOGUE },
    // The firmware's own tsconfig is for tsc; esbuild only needs class fields as constructor assignments.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
    logLevel: "silent",
  };
}

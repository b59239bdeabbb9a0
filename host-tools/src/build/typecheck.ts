import * as path from "path";
import * as ts from "typescript";
import { ROOT } from "./paths";

export const FIRMWARE_TSCONFIG = path.join(ROOT, "firmware", "tsconfig.json");

export interface TypecheckResult {
  ok: boolean;
  /** tsc-style lines: `firmware/src/x.ts(3,5): error TS2304: Cannot find name 'Map'.` */
  errors: string[];
  ms: number;
}

/**
 * Type-checks the firmware against Espruino-only declarations (firmware/tsconfig.json: lib es5 + firmware/types),
 * in process, as `tsc -p firmware/tsconfig.json --noEmit` would. Board-independent: run once per build.
 */
export function typecheckFirmware(tsconfig: string = FIRMWARE_TSCONFIG): TypecheckResult {
  const started = Date.now();
  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => ROOT,
    getNewLine: () => "\n",
  };
  const configErrors: ts.Diagnostic[] = [];
  const parsed = ts.getParsedCommandLineOfConfigFile(
    tsconfig,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => configErrors.push(d),
    },
  );
  if (!parsed || configErrors.length) {
    return { ok: false, errors: configErrors.map((d) => format(d, host)), ms: Date.now() - started };
  }
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const diagnostics = [...parsed.errors, ...ts.getPreEmitDiagnostics(program)].filter(
    (d) => d.category === ts.DiagnosticCategory.Error,
  );
  return { ok: diagnostics.length === 0, errors: diagnostics.map((d) => format(d, host)), ms: Date.now() - started };
}

function format(d: ts.Diagnostic, host: ts.FormatDiagnosticsHost): string {
  return ts
    .formatDiagnostic(d, host)
    .replace(/\s*\n\s*/g, " ")
    .trim();
}

import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";
import * as path from "path";

/** A position in an original source file; line and column are 1-based (as editors and tsc print them). */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
  /** The original name of the identifier at this position, when the map records one (minifiers rename). */
  name?: string;
}

/** Maps a bundle position (1-based line, 0-based column, as acorn reports) to the original source position. */
export type SourceLocator = (line: number, column0: number) => SourcePosition | undefined;

/**
 * Builds a locator from a source map. `mapFile` (absolute path of the .map) resolves the map's relative source paths;
 * results are relative to `root` when given (project-relative paths such as firmware/src/main.ts).
 */
export function sourceLocator(map: string | object, mapFile?: string, root?: string): SourceLocator {
  const traced = new TraceMap(map as ConstructorParameters<typeof TraceMap>[0], mapFile);
  return (line, column0) => {
    const p = originalPositionFor(traced, { line, column: column0 });
    if (p.source === null || p.line === null || p.column === null) return undefined;
    let file = p.source;
    if (file.startsWith("file://")) file = file.slice("file://".length);
    if (root && path.isAbsolute(file)) file = path.relative(root, file);
    const pos: SourcePosition = { file: file.split(path.sep).join("/"), line: p.line, column: p.column + 1 };
    if (p.name) pos.name = p.name;
    return pos;
  };
}

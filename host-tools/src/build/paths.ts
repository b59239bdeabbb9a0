import * as path from "path";

/** Project root (the folder with package.json). */
export const ROOT = path.resolve(__dirname, "..", "..", "..");
export const FIRMWARE_ENTRY = path.join(ROOT, "firmware", "src", "main.ts");
export const DIST_DIR = path.join(ROOT, "dist");

/** dist/<board>/tracelet.js: the bundle that is flashed, simulated and tested. */
export function bundlePath(boardId: string, distDir: string = DIST_DIR): string {
  return path.join(distDir, boardId, "tracelet.js");
}

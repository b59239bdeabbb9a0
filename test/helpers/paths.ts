import * as path from "path";

/** Project root and the shared/ folder beside it (CI clones the project next to a copy of shared/). */
export const ROOT = path.resolve(__dirname, "..", "..");
export const SHARED = path.resolve(ROOT, "..", "shared");
export const VECTORS = path.join(SHARED, "vectors", "gaen-v1.2.json");

import * as path from "path";

/** Project root; test data ships in test/fixtures/ (test/fixtures/README.md names each file's source and licence). */
export const ROOT = path.resolve(__dirname, "..", "..");
export const FIXTURES = path.join(ROOT, "test", "fixtures");
export const VECTORS = path.join(FIXTURES, "vectors", "gaen-v1.2.json");
export const GAEN_EXPORTS = path.join(FIXTURES, "vectors", "gaen-exports");

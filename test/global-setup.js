// Builds every board's firmware bundle once before the tests: tests load dist/<board>/tracelet.js, the flashed bundle.
// Without a PostgreSQL server the authority's PostgreSQL variants skip, and without the real Espruino interpreter
// (../shared/espruino/, or ESPRUINO_EMULATOR) its tests skip: each said once here, in one line, not once per suite
// (jest does not print the console of a suite whose tests were all skipped).
module.exports = async function globalSetup() {
  require("esbuild-register/dist/node").register({ target: "node20" });
  const missing = require("../host-tools/src/espruino-real/interpreter").emulatorMissing();
  if (missing) {
    if (process.env.CI === "true") throw new Error(`CI needs the real Espruino interpreter: ${missing}`);
    process.stderr.write(
      `\nreal-interpreter tests (test/espruino-real/, real flash and pretokeniser checks) skipped: ${missing}\n`,
    );
  }
  if (!process.env.TRACELET_PG_URL) {
    // CI never skips them (.ci/run: make test starts a server or fails).
    if (process.env.CI === "true")
      throw new Error("CI: no PostgreSQL for the authority's tests (TRACELET_PG_URL unset)");
    process.stderr.write(
      "\nauthority tests on PostgreSQL skipped: no PostgreSQL (install postgresql for make test, or set TRACELET_PG_URL)\n",
    );
  }
  if (process.env.TRACELET_SKIP_BUILD) return;
  const { buildAllBoards } = require("../host-tools/src/build/build");
  await buildAllBoards({ dev: false, quiet: true });
};

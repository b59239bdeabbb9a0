// Builds every board's firmware bundle once before the tests: tests load dist/<board>/tracelet.js, the flashed bundle.
// Without a PostgreSQL server the authority's PostgreSQL variants skip: said once here, not once per suite.
module.exports = async function globalSetup() {
  if (!process.env.TRACELET_PG_URL) {
    // CI never skips them (.ci/run: make test starts a server or fails).
    if (process.env.CI === "true")
      throw new Error("CI: no PostgreSQL for the authority's tests (TRACELET_PG_URL unset)");
    process.stderr.write(
      "\nauthority tests on PostgreSQL skipped: no PostgreSQL (install postgresql for make test, or set TRACELET_PG_URL)\n",
    );
  }
  if (process.env.TRACELET_SKIP_BUILD) return;
  require("esbuild-register/dist/node").register({ target: "node20" });
  const { buildAllBoards } = require("../host-tools/src/build/build");
  await buildAllBoards({ dev: false, quiet: true });
};

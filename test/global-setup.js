// Builds every board's firmware bundle once before the tests: tests load dist/<board>/tracelet.js, the flashed bundle.
module.exports = async function globalSetup() {
  if (process.env.TRACELET_SKIP_BUILD) return;
  require("esbuild-register/dist/node").register({ target: "node20" });
  const { buildAllBoards } = require("../host-tools/src/build/build");
  await buildAllBoards({ dev: false, quiet: true });
};

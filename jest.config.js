/**
 * Tests run TypeScript through SWC; firmware tests load the built bundles from dist/. At least two suites run at
 * once (jest's default is one fewer than the cores, so one on a 2-core machine): many suites mostly wait on
 * simulated real time (the flasher's, the kiosk page's), so a second worker halves the wall time.
 */
const os = require("node:os");

module.exports = {
  maxWorkers: Math.max(2, os.availableParallelism()),
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022" } }] },
  globalSetup: "<rootDir>/test/global-setup.js",
  testTimeout: 60000,
};

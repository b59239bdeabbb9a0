#!/usr/bin/env node
// Entry point for `npx tracelet`: runs the TypeScript CLI through esbuild-register so no compile step is needed after `npm ci`.
"use strict";
require("esbuild-register/dist/node").register({ target: "node20" });
require("../src/cli/main").main(process.argv);

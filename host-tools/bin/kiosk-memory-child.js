#!/usr/bin/env node
// The kiosk's resident memory with a full store (host-tools/src/bench/sections/kiosk-memory.ts runs it).
"use strict";
require("esbuild-register/dist/node").register({ target: "node20" });
require("../src/bench/sections/kiosk-memory").memoryChild(process.argv[2]);

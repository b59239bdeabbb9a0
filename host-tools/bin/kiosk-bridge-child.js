#!/usr/bin/env node
// The kiosk service on bridged simulated bands (host-tools/src/kiosk/crash-child.ts), for the crash rig.
"use strict";
require("esbuild-register/dist/node").register({ target: "node20" });
require("../src/kiosk/crash-child");

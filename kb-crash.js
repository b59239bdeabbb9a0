require("esbuild-register/dist/node").register({ target: "node20" });
const path = require("path");
const { syncCrashScenario } = require("./host-tools/src/kiosk/crash-rig");
syncCrashScenario(200, (b) => path.join(__dirname, "dist", b, "tracelet.js")).then((r) => { console.log(JSON.stringify(r, null, 1)); process.exit(0); });

require("esbuild-register/dist/node").register({ target: "node20" });
const { uploadCrashScenario } = require("./host-tools/src/kiosk/crash-rig");
uploadCrashScenario(200, 2000).then((r) => { console.log(JSON.stringify(r, null, 1)); process.exit(0); });

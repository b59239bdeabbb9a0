#!/usr/bin/env node
// The README's demo pictures: runs `tracelet demo --keep` (what `make demo` runs: 8 bands in two wings, 3 days), screenshots the kiosk page and the
// report with Debian's chromium (CHROMIUM overrides), then stops the demo. node host-tools/scripts/demo-screenshots.js
"use strict";
const { spawn } = require("child_process");
const path = require("path");
const os = require("os");
const ROOT = path.resolve(__dirname, "..", "..");
const REPORT = path.join(os.tmpdir(), "tracelet-demo-screenshot.html");
const { chromium } = require(path.join(ROOT, "node_modules", "playwright-core"));
(async () => {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, "host-tools/bin/tracelet.js"), "demo", "--keep", "--report", REPORT],
    { cwd: ROOT },
  );
  let err = "";
  const url = await new Promise((resolve, reject) => {
    child.stderr.on("data", (d) => {
      err += d;
      process.stderr.write(d);
      if (/Ctrl-C to stop/.test(err)) resolve(/kiosk page on (http:\/\/\S+),/.exec(err)[1]);
    });
    child.on("exit", (c) => reject(new Error("demo exited " + c)));
  });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--disable-gpu", "--lang=en-GB"],
  });
  const page = await browser.newPage({ viewport: { width: 1100, height: 1500 } });
  await page.goto(url);
  await page.waitForTimeout(3000);
  await page.screenshot({ path: path.join(ROOT, "docs/demo-kiosk.png") });
  const p2 = await browser.newPage({ viewport: { width: 900, height: 1100 } });
  await p2.goto("file://" + REPORT);
  await p2.screenshot({ path: path.join(ROOT, "docs/demo-report.png") });
  await browser.close();
  child.kill("SIGINT");
})().catch((e) => {
  console.error(e);
  process.exit(1);
});

import { scrub } from "../../host-tools/src/flash/espruino-tools";
import { isTraceletFile, versionNumber } from "../../host-tools/src/flash/provision";

/** The flasher's small rules: what it may quote from a device, which Espruino it accepts, which files it wipes. */

test("device text in a message never carries a base64 run (a provisioning record travels base64-encoded)", () => {
  const secret = Buffer.from("TLP\x01" + "k".repeat(60), "latin1").toString("base64");
  const msg = scrub(`Uncaught SyntaxError: Got String:'${secret.slice(0, 40)}' expected ','`);
  expect(msg).not.toContain(secret.slice(0, 12));
  expect(msg).toBe("Uncaught SyntaxError: Got String:'…' expected ','");
  expect(scrub("writing tl.prov failed: Out of Memory")).toBe("writing tl.prov failed: Out of Memory");
});

test("Espruino versions compare as the firmware needs (2v29 and later)", () => {
  expect(versionNumber("2v29")).toBeLessThanOrEqual(versionNumber("2v29.74"));
  expect(versionNumber("2v28.99")).toBeLessThan(versionNumber("2v29"));
  expect(versionNumber("2v30")).toBeGreaterThan(versionNumber("2v29.999"));
  expect(versionNumber("3v00")).toBeGreaterThan(versionNumber("2v99"));
  expect(versionNumber("banana")).toBeNaN();
});

test("--force wipes Tracelet's own files only", () => {
  expect([".bootcde", ".bootrst", "tl.prov", "tl.l0", "tl.j1"].every(isTraceletFile)).toBe(true);
  expect([".boot0", ".boot3", "photos", "bootcde", "tlx"].some(isTraceletFile)).toBe(false);
});

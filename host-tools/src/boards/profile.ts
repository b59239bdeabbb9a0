import { z } from "zod";
import { LOG_FILE_STRIDE } from "../../../firmware/src/tuning";

/**
 * The one definition of a board profile. boards/<id>.json files are checked against it, boards/schema.json is
 * generated from it (`tracelet boards --schema`), and the build, the simulator, the energy model and the flasher
 * all read profiles through `loadBoard`.
 */
const currentUa = z.number().nonnegative().describe("current in microamps");

export const BoardProfileSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/)
      .describe("Tracelet board id, also the file name: lower-case letters and digits, words joined by hyphens"),
    name: z.string().min(1),
    espruinoBoard: z.string().min(1).describe("Espruino board id (BOARD in the interpreter build)"),
    jsVars: z.number().int().positive().describe("JsVars available to JavaScript"),
    storageBytes: z.number().int().positive().describe("flash available to require('Storage') files"),
    flashPageSize: z.number().int().positive(),
    logBudgetBytes: z.number().int().positive().describe("Storage bytes reserved for the encounter log"),
    bundleBudgetBytes: z.number().int().positive().describe("largest firmware bundle this board can hold"),
    mtu: z.number().int().min(23).describe("BLE ATT MTU the firmware can use"),
    crypto: z
      .object({
        sha1: z.boolean(),
        sha256: z.boolean(),
        aesEcb: z.boolean().describe("require('crypto').AES.encrypt with mode ECB"),
        aesCcm: z.boolean().describe("global AES.ccmEncrypt/ccmDecrypt"),
      })
      .strict(),
    radio: z
      .object({
        txPowerDbm: z.number().int().min(-40).max(8).describe("NRF.setTxPower setting used"),
        calibratedTxDbm: z
          .number()
          .int()
          .min(-60)
          .max(20)
          .describe(
            "radiated power at 1 m reference as GAEN metadata carries it (antenna and enclosure losses included)",
          ),
        advertisingIntervalMs: z.number().int().min(200).max(270),
      })
      .strict(),
    currentUa: z
      .object({
        idle: currentUa,
        advertising: currentUa.describe("non-connectable advertising at radio.advertisingIntervalMs, added to idle"),
        advertisingReferenceIntervalMs: z
          .number()
          .int()
          .positive()
          .describe("interval the advertising figure was measured at"),
        connectableAdvertising: currentUa,
        scanning: currentUa,
        connected: currentUa,
        cpu: currentUa.describe("JavaScript running at 100%"),
      })
      .strict(),
    battery: z
      .object({
        capacityMah: z.number().positive(),
        chemistry: z.string(),
        readout: z
          .enum(["E.getBattery", "analogRead", "NRF.getBattery"])
          .describe("how the firmware reads battery level"),
        pin: z.string().optional().describe("analog pin when readout is analogRead"),
        emptyVolts: z.number().positive().optional(),
        fullVolts: z.number().positive().optional(),
      })
      .strict(),
    rtcPpm: z.number().positive().describe("worst-case clock drift in parts per million"),
    buttons: z.array(z.string()),
    leds: z.array(z.string()),
    console: z
      .array(z.enum(["bluetooth", "serial"]))
      .min(1)
      .describe(
        "how the flasher reaches the Espruino console: bluetooth (Nordic UART service) and/or serial (a USB-serial adapter on the board's console pins)",
      ),
    estimates: z.array(z.string()).describe("fields whose values are estimates, not measured or documented figures"),
    sources: z.array(z.string()).describe("where the figures come from"),
  })
  .strict()
  .superRefine((b, ctx) => {
    // Whether the log fits beside the bundle actually built is the build's check (boards/storage.ts).
    if (b.logBudgetBytes > b.storageBytes) {
      ctx.addIssue({ code: "custom", message: "logBudgetBytes exceed storageBytes" });
    }
    if (b.logBudgetBytes % LOG_FILE_STRIDE !== 0) {
      ctx.addIssue({
        code: "custom",
        message: `logBudgetBytes must be a whole number of ${LOG_FILE_STRIDE}-byte log files`,
      });
    }
    if (b.battery.readout === "analogRead" && !b.battery.pin) {
      ctx.addIssue({ code: "custom", message: "battery.pin is required when battery.readout is analogRead" });
    }
  });

export type BoardProfile = z.infer<typeof BoardProfileSchema>;

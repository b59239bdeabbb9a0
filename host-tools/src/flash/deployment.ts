import * as fs from "fs";
import { z } from "zod";
import {
  DEFAULT_RETENTION_DAYS,
  PROV_FLAG_CLOCK_SET_BY_FLASHER,
  Provisioning,
  TX_FROM_BOARD,
} from "../../../firmware/src/protocol/provisioning";
import { TX_PLAUSIBLE_MAX_DBM, TX_PLAUSIBLE_MIN_DBM } from "../../../firmware/src/protocol/record";

/**
 * A deployment file (`tracelet flash --deployment <file>`): the settings every band of one deployment gets in its
 * provisioning record (docs/flashing.md). Every field is optional; a missing one takes the firmware default.
 *
 *     {"name": "Hoa Binh care home", "mode": "private", "retentionDays": 21}
 */
export const DeploymentSchema = z
  .object({
    /** Printed on the labels. */
    name: z.string().max(60).optional(),
    /** private: random daily keys (phones' model); escrow: keys derived from a secret the authority keeps. */
    mode: z.enum(["private", "escrow"]).default("private"),
    retentionDays: z.number().int().min(14).max(60).default(DEFAULT_RETENTION_DAYS),
    /**
     * dBm carried in the advert's metadata; default: the board profile's calibration. Held to the range the
     * matchers' AEM check accepts (record-constants.ts), or no band or phone could ever match this band's RPIs.
     */
    txCalibrationDbm: z.number().int().min(TX_PLAUSIBLE_MIN_DBM).max(TX_PLAUSIBLE_MAX_DBM).optional(),
    scanPeriodS: z.number().int().min(10).max(3600).optional(),
    scanWindowMs: z.number().int().min(500).max(10000).optional(),
    rssiFloorDbm: z.number().int().min(-110).max(-40).optional(),
    lowBatteryPercent: z.number().int().min(1).max(50).optional(),
  })
  .strict();

export type Deployment = z.infer<typeof DeploymentSchema>;

export const DEFAULT_DEPLOYMENT: Deployment = DeploymentSchema.parse({});

export class DeploymentError extends Error {}

export function loadDeployment(file: string): Deployment {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DeploymentError(`cannot read deployment file ${file}: ${err.code ?? err.message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DeploymentError(`deployment file ${file} is not JSON: ${(e as Error).message}`);
  }
  const r = DeploymentSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new DeploymentError(`deployment file ${file}: ${i.path.join(".") || "file"}: ${i.message}`);
  }
  return r.data;
}

/** The provisioning record for a new identity under this deployment, with the clock the flasher sets. */
export function provisioningFor(
  d: Deployment,
  ids: { bandId: Uint8Array; bandSecret: Uint8Array; syncKey: Uint8Array },
  unix: number,
): Provisioning {
  return {
    bandId: ids.bandId,
    bandSecret: ids.bandSecret,
    syncKey: ids.syncKey,
    mode: d.mode,
    retentionDays: d.retentionDays,
    txCalibrationDbm: d.txCalibrationDbm ?? TX_FROM_BOARD,
    flags: PROV_FLAG_CLOCK_SET_BY_FLASHER,
    scanPeriodS: d.scanPeriodS ?? 0,
    scanWindowMs: d.scanWindowMs ?? 0,
    rssiFloorDbm: d.rssiFloorDbm ?? 0,
    lowBatteryPercent: d.lowBatteryPercent ?? 0,
    provisionedAt: unix,
  };
}

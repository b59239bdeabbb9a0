import { PROVISIONING_BYTES } from "../../../firmware/src/protocol/provisioning-constants";
import { LOG_FILE_STRIDE, SLOT, SLOTS } from "../../../firmware/src/tuning";
import { BoardProfile } from "./profile";

/**
 * What Tracelet's files take of a board's Storage (Espruino 2v29 `src/jsflash.c`: every file is a 32-byte header
 * (size, flags, 28-byte name) and its data, padded to 4 bytes). The log budget (boards/<id>.json logBudgetBytes) must
 * fit beside the bundle actually built, the provisioning record and both journal copies (a journal rewrite writes
 * the second before it erases the first): the build refuses a bundle that would leave the log less, and the flasher
 * checks the same sum against the device.
 */
export const STORAGE_FILE_HEADER = 32;

export interface StoragePlan {
  bundle: number;
  provisioning: number;
  journals: number;
  log: number;
  total: number;
  /** Storage the plan leaves unused (negative: it does not fit). */
  spare: number;
  /** Log files of LOG_FILE_STRIDE bytes. */
  logFiles: number;
}

function fileBytes(data: number): number {
  return STORAGE_FILE_HEADER + Math.ceil(data / 4) * 4;
}

export function storagePlan(board: BoardProfile, bundleBytes: number): StoragePlan {
  const bundle = fileBytes(bundleBytes);
  const provisioning = fileBytes(PROVISIONING_BYTES);
  const journals = 2 * fileBytes(SLOTS * SLOT);
  const log = board.logBudgetBytes;
  const total = bundle + provisioning + journals + log;
  return {
    bundle,
    provisioning,
    journals,
    log,
    total,
    spare: board.storageBytes - total,
    logFiles: Math.floor(log / LOG_FILE_STRIDE),
  };
}

/** Why the plan does not fit, or undefined when it does. */
export function storageProblem(board: BoardProfile, bundleBytes: number): string | undefined {
  const p = storagePlan(board, bundleBytes);
  if (p.spare >= 0) return undefined;
  return (
    `Storage does not hold it: firmware ${p.bundle} + provisioning ${p.provisioning} + journals ${p.journals} + ` +
    `log ${p.log} = ${p.total} bytes, ${-p.spare} more than the board's ${board.storageBytes} ` +
    `(lower boards/${board.id}.json logBudgetBytes by whole ${LOG_FILE_STRIDE}-byte files, or shrink the bundle)`
  );
}

import { ScanDevice } from "../hw/types";
import { BLUEZONE_COMPANY_ID } from "../protocol/advert";
import { KIND_BLUEZONE, KIND_EN } from "../protocol/record";
import { EncounterTable } from "./encounter-table";

/**
 * The scan callback's work: pick an Exposure Notification (0xFD6F service data: RPI 16 + AEM 4) or Bluezone
 * (manufacturer 0x22B5: 12-byte id) beacon out of an Espruino device object and record one sighting. Anything
 * malformed is ignored. No allocation beyond a typed-array view.
 */
export function sightDevice(t: EncounterTable, d: ScanDevice): void {
  let rssi = d.rssi;
  if (typeof rssi !== "number" || rssi !== rssi) return;
  if (rssi < -127) rssi = -127;
  if (rssi > 20) rssi = 20;
  const sd = d.serviceData;
  const en = sd ? sd.fd6f : undefined;
  if (en && typeof en === "object") {
    const b = new Uint8Array(en);
    if (b.length === 20) t.sight(KIND_EN, b, 0, rssi, b[17]);
    return;
  }
  const m = d.manufacturerData;
  if (d.manufacturer === BLUEZONE_COMPANY_ID && m && typeof m === "object") {
    const b = new Uint8Array(m);
    if (b.length >= 12) t.sight(KIND_BLUEZONE, b, 0, rssi, 0);
  }
}

import { ScanDevice } from "../hw/types";
import { BLUEZONE_COMPANY_ID } from "../protocol/advert";
import { KIND_BLUEZONE, KIND_EN } from "../protocol/record";
import { FROM_STATIC } from "../tuning";
import * as table from "./encounter-table";

/**
 * The scan callback's work: pick an Exposure Notification (0xFD6F service data: RPI 16 + AEM 4) or Bluezone
 * (manufacturer 0x22B5: 12-byte id) beacon out of an Espruino device object and record one sighting in the
 * encounter table, marking adverts from random static addresses. Anything malformed is ignored. No allocation
 * beyond a typed-array view.
 */
export function sightDevice(d: ScanDevice): void {
  const rssi = d.rssi as number;
  if (!(rssi > -128)) return;
  const en = d.serviceData && d.serviceData.fd6f;
  const m = d.manufacturerData;
  if (en) {
    const b = new Uint8Array(en);
    // Bands advertise from random static addresses (two top bits 11: "c0".."ff"), phones from private ones.
    if (b.length === 20) table.sight((d.id || "") >= "c" ? KIND_EN | FROM_STATIC : KIND_EN, b, 0, rssi, b[17]);
  } else if (d.manufacturer === BLUEZONE_COMPANY_ID && m) {
    const b = new Uint8Array(m);
    if (b.length >= 12) table.sight(KIND_BLUEZONE, b, 0, rssi, 0);
  }
}

import { ContactWrite, F1Sighting } from "../store/store";

/**
 * Exposure of one registered band to a positive band on one UTC day: minutes per attenuation bucket.
 * Attenuation = tx power (decrypted from the AEM) - RSSI; the typical (mean) RSSI picks the bucket and the
 * strongest RSSI gives the minimum attenuation. Each record covers the minutes from its first to its last
 * sighting (a record seen in a single scan counts one minute). A minute covered by several records (two RPIs
 * around a rotation, overlapping logs) counts once, in the closest bucket, so nothing is double counted.
 * RSSI is a noisy distance proxy (+-10 dB from body shadowing), so the worklist shows the buckets and leaves
 * the close-contact flag to configurable thresholds.
 */
export interface ExposureSettings {
  attenuationThresholdsDb: number[];
  closeBucket: number;
  closeContactMinutes: number;
  /** Used when a sighting's tx power could not be decrypted. */
  defaultTxPowerDbm: number;
}

export function bucketOf(attenuation: number, thresholds: readonly number[]): number {
  for (let i = 0; i < thresholds.length; i++) if (attenuation <= thresholds[i]) return i;
  return thresholds.length;
}

/** Aggregates the sightings of one (F0, F1, day) group into a contact row. */
export function aggregateContact(group: readonly F1Sighting[], s: ExposureSettings, now: number): ContactWrite {
  const first = group[0];
  const minuteBucket = new Map<number, number>();
  let minAtt: number | null = null;
  let firstSeen = Infinity;
  let lastSeen = -Infinity;
  let lastLogId = 0;
  for (const g of group) {
    const tx = g.txPower ?? s.defaultTxPowerDbm;
    const att = tx - g.rssiMean;
    const bucket = bucketOf(att, s.attenuationThresholdsDb);
    if (minAtt === null || att < minAtt) minAtt = att;
    const m0 = Math.floor(g.startTime / 60);
    const span = Math.max(1, g.durationMinutes);
    for (let m = m0; m < m0 + span; m++) {
      const b = minuteBucket.get(m);
      if (b === undefined || bucket < b) minuteBucket.set(m, bucket);
    }
    firstSeen = Math.min(firstSeen, g.startTime);
    lastSeen = Math.max(lastSeen, g.startTime + g.durationMinutes * 60);
    lastLogId = Math.max(lastLogId, g.logId);
  }
  const minutes = new Array<number>(s.attenuationThresholdsDb.length + 1).fill(0);
  for (const b of minuteBucket.values()) minutes[b]++;
  let close = 0;
  for (let i = 0; i <= s.closeBucket && i < minutes.length; i++) close += minutes[i];
  return {
    f0BandId: first.f0BandId,
    f1BandId: first.f1BandId,
    day: first.day,
    minutes,
    minAttenuationDb: minAtt,
    sightings: group.length,
    firstSeen,
    lastSeen,
    closeContact: close >= s.closeContactMinutes,
    updatedAt: now,
    lastLogId,
  };
}

export function groupSightings(sightings: readonly F1Sighting[]): F1Sighting[][] {
  const groups = new Map<string, F1Sighting[]>();
  for (const s of sightings) {
    const k = s.f1BandId + "/" + s.day;
    const g = groups.get(k);
    if (g) g.push(s);
    else groups.set(k, [s]);
  }
  return [...groups.values()];
}

import { z } from "zod";
import { AuthorityConfig, bucketLabels } from "./config";
import { dayOfIsoDate, IsoDate, isoDateOfDay, isoTime } from "./dates";
import { HttpError } from "./http/errors";
import { AuthorityStore, ContactRow } from "./store/store";

/**
 * The health workers' worklist: registered bands that were near a positive band, one row per (positive band,
 * contact band, UTC day), close contacts first. JSON by default, CSV with ?format=csv or Accept: text/csv.
 */
export const ContactQuery = z.object({
  status: z.enum(["new", "called", "unreachable", "done"]).optional(),
  f0: z
    .string()
    .regex(/^[0-9a-fA-F]{16}$/)
    .optional(),
  close: z.enum(["0", "1", "true", "false"]).optional(),
  since: IsoDate.optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  format: z.enum(["json", "csv"]).optional(),
});

export const ContactStatusRequest = z.object({ status: z.enum(["new", "called", "unreachable", "done"]) });

export interface ContactView {
  id: number;
  positiveBandId: string;
  contactBandId: string;
  day: string;
  minutesByAttenuation: Record<string, number>;
  totalMinutes: number;
  closeContact: boolean;
  minAttenuationDb: number | null;
  sightings: number;
  firstSeen: string;
  lastSeen: string;
  status: string;
}

export class ContactList {
  private readonly labels: string[];

  constructor(
    private readonly store: AuthorityStore,
    config: AuthorityConfig,
  ) {
    this.labels = bucketLabels(config.exposure.attenuationThresholdsDb);
  }

  async list(q: z.infer<typeof ContactQuery>): Promise<ContactView[]> {
    const rows = await this.store.listContacts({
      status: q.status,
      f0BandId: q.f0?.toLowerCase(),
      closeOnly: q.close === "1" || q.close === "true",
      sinceDay: q.since !== undefined ? dayOfIsoDate(q.since) : undefined,
      limit: q.limit,
      offset: q.offset,
    });
    return rows.map((r) => this.view(r));
  }

  async setStatus(id: string, status: ContactRow["status"], now: number): Promise<void> {
    if (!/^\d{1,15}$/.test(id)) throw new HttpError(404, "not_found", "no such contact");
    if (!(await this.store.setContactStatus(Number(id), status, now)))
      throw new HttpError(404, "not_found", "no such contact");
  }

  bucketLabels(): string[] {
    return this.labels;
  }

  toCsv(rows: ContactView[]): string {
    const head = [
      "id",
      "positive_band_id",
      "contact_band_id",
      "day",
      ...this.labels.map((l) => `minutes_att_${l}`),
      "total_minutes",
      "close_contact",
      "min_attenuation_db",
      "sightings",
      "first_seen",
      "last_seen",
      "status",
    ];
    const lines = [head.map(csvCell).join(",")];
    for (const r of rows) {
      lines.push(
        [
          r.id,
          r.positiveBandId,
          r.contactBandId,
          r.day,
          ...this.labels.map((l) => r.minutesByAttenuation[l]),
          r.totalMinutes,
          r.closeContact ? "yes" : "no",
          r.minAttenuationDb ?? "",
          r.sightings,
          r.firstSeen,
          r.lastSeen,
          r.status,
        ]
          .map((v) => csvCell(String(v)))
          .join(","),
      );
    }
    return lines.join("\r\n") + "\r\n";
  }

  private view(r: ContactRow): ContactView {
    const minutesByAttenuation: Record<string, number> = {};
    this.labels.forEach((l, i) => (minutesByAttenuation[l] = r.minutes[i] ?? 0));
    return {
      id: r.id,
      positiveBandId: r.f0BandId,
      contactBandId: r.f1BandId,
      day: isoDateOfDay(r.day),
      minutesByAttenuation,
      totalMinutes: r.minutes.reduce((a, b) => a + b, 0),
      closeContact: r.closeContact,
      minAttenuationDb: r.minAttenuationDb,
      sightings: r.sightings,
      firstSeen: isoTime(r.firstSeen),
      lastSeen: isoTime(r.lastSeen),
      status: r.status,
    };
  }
}

/** RFC 4180 quoting, plus a leading quote for cells a spreadsheet would run as a formula. */
function csvCell(s: string): string {
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) ? "'" + s : s;
  return /[",\r\n]/.test(safe) ? '"' + safe.replace(/"/g, '""') + '"' : safe;
}

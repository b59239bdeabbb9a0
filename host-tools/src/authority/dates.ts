import { z } from "zod";

/** Calendar dates as the verification API carries them ("YYYY-MM-DD", UTC). */
export const IsoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD")
  .refine((s) => dayOfIsoDate(s) !== undefined, "is not a real calendar date");

/** Days since the Unix epoch of a "YYYY-MM-DD" date, or undefined when it is not a real date. */
export function dayOfIsoDate(s: string): number | undefined {
  const t = Date.parse(s + "T00:00:00Z");
  if (!Number.isFinite(t)) return undefined;
  if (new Date(t).toISOString().slice(0, 10) !== s) return undefined;
  return Math.floor(t / 86400000);
}

export function isoDateOfDay(day: number): string {
  return new Date(day * 86400000).toISOString().slice(0, 10);
}

export function isoTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString();
}

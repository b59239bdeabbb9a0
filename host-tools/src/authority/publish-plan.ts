import { ExposureRow, TestType } from "./store/store";

/**
 * What a publish does to keys already in the store (pure; the store calls it inside its transaction).
 * Rules follow google/exposure-notifications-server's revision model:
 * - a new key is inserted (a "negative" report never inserts: it only revokes what was published);
 * - a key already published needs a revision token from the earlier publish that covers it, else the whole
 *   request fails, so nobody can re-label keys they did not publish;
 * - with a token: the same report type again is a no-op (retries are safe); likely -> confirmed,
 *   likely -> negative and confirmed -> negative revise the key once; anything else is a warning.
 */
export interface PublishPlan {
  inserts: ExposureRow[];
  revisions: { keyData: Buffer; reportType: TestType; daysSinceOnset: number | null }[];
  warnings: string[];
  error?: { code: string; error: string };
}

const ALLOWED: Record<TestType, TestType[]> = {
  likely: ["confirmed", "negative"],
  confirmed: ["negative"],
  negative: [],
};

export function planPublish(
  existing: ReadonlyMap<string, ExposureRow>,
  incoming: readonly ExposureRow[],
  revisable: ReadonlySet<string> | null,
): PublishPlan {
  const plan: PublishPlan = { inserts: [], revisions: [], warnings: [] };
  for (const k of incoming) {
    const hex = k.keyData.toString("hex");
    const e = existing.get(hex);
    if (!e) {
      if (k.reportType === "negative") {
        plan.warnings.push(`key ${short(hex)} was never published; a negative report only revokes published keys`);
      } else {
        plan.inserts.push(k);
      }
      continue;
    }
    if (!revisable || !revisable.has(hex)) {
      plan.error = revisable
        ? {
            code: "invalid_revision_token",
            error: "the revision token does not cover a key that was already published",
          }
        : {
            code: "missing_revision_token",
            error: "a key in this request was already published; send the revisionToken of that publish",
          };
      return plan;
    }
    if (e.rollingStart !== k.rollingStart || e.rollingPeriod !== k.rollingPeriod) {
      plan.warnings.push(`key ${short(hex)}: rolling start/period differ from the published key; not revised`);
      continue;
    }
    const current = e.revisedReportType ?? e.reportType;
    if (current === k.reportType) continue;
    if (e.revisedAt !== null) {
      plan.warnings.push(`key ${short(hex)} was already revised once`);
      continue;
    }
    if (!ALLOWED[e.reportType].includes(k.reportType)) {
      plan.warnings.push(`key ${short(hex)}: report type ${e.reportType} cannot become ${k.reportType}`);
      continue;
    }
    plan.revisions.push({ keyData: k.keyData, reportType: k.reportType, daysSinceOnset: k.daysSinceOnset });
  }
  return plan;
}

function short(hex: string): string {
  return hex.slice(0, 8) + "...";
}

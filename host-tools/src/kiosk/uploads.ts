import { randomBytes } from "crypto";
import { AuthorityClient, AuthorityError, DiagnosisKey } from "./authority-client";
import { KioskStore, UploadRow } from "./store";

/**
 * The tested-positive upload queue. A job is saved (sealed) before anything is sent, and after every step the
 * authority answered, so a kiosk that is killed or offline resumes at the step it reached:
 *
 *   verify (the health worker's code -> token) -> certificate (token -> certificate over the keys and the log)
 *   -> publish (keys; 409 certificate_used on a resend means they are stored) -> upload (the band's signed log
 *   pages, TLX v3; stored by SHA-256 at the authority, so a resend is a duplicate, not a second log) -> done
 *
 * Retryable failures (network, timeouts, 5xx, 429) back off (30 s doubling to 30 min). A used or expired code or
 * token (a kill between the authority's answer to verify or certificate and the saved step uses them up; so does
 * a kiosk offline past the code's hour) leaves the job `needs_code`: keys and log stay saved and the health worker
 * enters a new code (`newCode`). Anything else ends the job as failed with the authority's reason, for staff.
 */
export interface PositiveJob {
  step: "verify" | "certificate" | "publish" | "upload" | "done";
  code?: string;
  teks: { key: string; rollingStartNumber: number; rollingPeriod: number }[];
  /** The band's log as TLX v3, base64 (absent when the deployment does not take logs). */
  tlx?: string;
  testType?: string;
  token?: string;
  hmacKey?: string;
  certificate?: string;
}

export interface UploadOutcome {
  id: number;
  state: string;
  error?: string;
  result?: unknown;
}

const BACKOFF_MS = 30_000;
/** Refusals that only a new verification code cures (the code or its token was used, or expired). */
const NEEDS_CODE = ["code_invalid", "code_expired", "token_invalid", "token_expired"];
const BACKOFF_MAX_MS = 30 * 60_000;

export class UploadQueue {
  /** Whether the authority answered the last request (null: nothing tried yet). */
  reachable: boolean | null = null;
  lastError: string | null = null;
  private running = false;

  constructor(
    private store: KioskStore,
    private client: AuthorityClient,
    private now: () => number,
    private log: (l: string) => void,
  ) {}

  enqueue(bandId: string, job: PositiveJob): number {
    return this.store.enqueueUpload(bandId, job, this.now());
  }

  pending(): UploadRow[] {
    return this.store.uploads({ pendingOnly: true });
  }

  /** A new verification code for a job that needs one: it starts again at verify, with the same keys and log. */
  newCode(id: number, code: string): void {
    const row = this.store.uploads().find((u) => u.id === id);
    if (!row) throw new Error(`no upload ${id}`);
    if (row.state !== "needs_code") throw new Error(`upload ${id} does not need a code (it is ${row.state})`);
    const job = row.job as PositiveJob;
    job.step = "verify";
    job.code = code;
    job.token = job.certificate = job.hmacKey = undefined;
    this.store.updateUpload(id, { job, state: "verify", error: null, nextTryAt: 0 });
  }

  /** Works every due job once, in order. Never throws: each job's state says what happened. */
  async run(onlyId?: number): Promise<UploadOutcome[]> {
    if (this.running) return [];
    this.running = true;
    const out: UploadOutcome[] = [];
    try {
      for (const row of this.pending()) {
        if (onlyId !== undefined && row.id !== onlyId) continue;
        if (row.nextTryAt > this.now() || row.state === "needs_code") continue;
        out.push(await this.work(row));
      }
    } finally {
      this.running = false;
    }
    return out;
  }

  private save(id: number, job: PositiveJob, extra: Parameters<KioskStore["updateUpload"]>[1] = {}): void {
    this.store.updateUpload(id, { job, state: job.step, ...extra });
  }

  private async work(row: UploadRow): Promise<UploadOutcome> {
    const job = row.job as PositiveJob;
    const id = row.id;
    this.store.updateUpload(id, { attempt: true });
    try {
      const keys: DiagnosisKey[] = job.teks.map((t) => ({ ...t, transmissionRisk: 0 }));
      const tlx = job.tlx ? new Uint8Array(Buffer.from(job.tlx, "base64")) : undefined;
      if (job.step === "verify") {
        const v = await this.client.verifyCode(job.code as string, ["confirmed", "likely"]);
        job.token = v.token;
        job.testType = v.testType;
        job.code = undefined;
        job.step = "certificate";
        this.save(id, job);
      }
      if (job.step === "certificate") {
        const hmacKey = new Uint8Array(randomBytes(32));
        const cert = await this.client.certificate(
          job.token as string,
          AuthorityClient.computeEkeyhmac(keys, hmacKey),
          tlx ? AuthorityClient.computeLogmacFor(tlx, hmacKey) : undefined,
        );
        job.hmacKey = Buffer.from(hmacKey).toString("base64");
        job.certificate = cert.certificate;
        job.token = undefined;
        job.step = "publish";
        this.save(id, job);
      }
      const hmacKey = new Uint8Array(Buffer.from(job.hmacKey as string, "base64"));
      const result: Record<string, unknown> = { testType: job.testType, keys: keys.length, ...(row.result as object) };
      if (job.step === "publish") {
        try {
          const p = await this.client.publish(keys, job.certificate as string, hmacKey);
          result.insertedExposures = p.insertedExposures;
          result.paddingBytes = p.paddingBytes;
        } catch (e) {
          if (!(e instanceof AuthorityError && e.code === "certificate_used")) throw e;
          result.alreadyStored = true;
        }
        job.step = tlx ? "upload" : "done";
        this.save(id, job, { result });
      }
      if (job.step === "upload" && tlx) {
        try {
          const up = await this.client.uploadBandLog(tlx, job.certificate as string, hmacKey, keys);
          result.logId = up.logId;
          result.logDuplicate = up.duplicate;
          result.records = up.records;
        } catch (e) {
          // Refused for good (not a band of this authority, a bad log): the keys are published; say so.
          if (!(e instanceof AuthorityError) || e.retryable) throw e;
          result.logError = e.message;
        }
        job.step = "done";
      }
      job.step = "done";
      job.certificate = job.hmacKey = undefined;
      this.save(id, job, { result, doneAt: this.now(), error: null });
      this.reachable = true;
      this.lastError = null;
      this.log(`kiosk: positive band ${row.bandId}: ${keys.length} keys published${tlx ? ", log uploaded" : ""}`);
      return { id, state: "done", result };
    } catch (e) {
      const err = e as Error;
      const retry = err instanceof AuthorityError ? err.retryable : false;
      if (err instanceof AuthorityError) {
        this.reachable = err.status !== 0;
        this.lastError = err.message;
      }
      if (retry) {
        const wait = Math.min(BACKOFF_MS * 2 ** Math.max(0, row.attempts), BACKOFF_MAX_MS);
        this.store.updateUpload(id, { error: err.message, nextTryAt: this.now() + wait });
        this.log(
          `kiosk: upload ${id} for band ${row.bandId} will be retried in ${Math.round(wait / 1000)} s: ${err.message}`,
        );
        return { id, state: job.step, error: err.message };
      }
      if (err instanceof AuthorityError && NEEDS_CODE.includes(err.code)) {
        // The keys and the log stay saved: the health worker enters a new code (newCode) and the job goes on.
        this.store.updateUpload(id, { state: "needs_code", error: err.message });
        this.log(`kiosk: upload ${id} for band ${row.bandId} needs a new verification code: ${err.message}`);
        return { id, state: "needs_code", error: err.message };
      }
      this.store.updateUpload(id, { state: "failed", error: err.message, doneAt: this.now() });
      this.log(`kiosk: upload ${id} for band ${row.bandId} failed: ${err.message}`);
      return { id, state: "failed", error: err.message };
    }
  }
}

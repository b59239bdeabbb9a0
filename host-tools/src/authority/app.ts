import { BandLogAuth, BandLogService, BAND_LOG_TYPES } from "./band-logs";
import {
  BandHealth,
  BandHealthReport,
  BandRegistry,
  parseSince,
  RegisterBandRequest,
  registrationAudit,
} from "./bands";
import { AuthorityConfig } from "./config";
import { ContactList, ContactQuery, ContactStatusRequest } from "./contacts";
import { deriveServerSubkeys } from "./crypto/server-keys";
import { publicKeyPem, signingKeysJson } from "./export/signing-keys";
import { ExportBatcher } from "./export/batches";
import { directoryTarget, EXPORT_FILE_NAME, ExportPublisher, ExportTarget } from "./export/publish-dir";
import { bucketTarget } from "./export/publish-s3";
import { F1Resolver } from "./f1/service";
import * as http from "http";
import { FastifyInstance } from "fastify";
import { z } from "zod";
import { HttpError, parseWith } from "./http/errors";
import { Lockout, LockoutTable, LOOPBACK_PROXIES, proxyMatcher, RateLimiter, RateLimitTable } from "./http/rate-limit";
import { buildHttp, lockoutKeys, PreBodyContext, RequestContext, RouteDef, RouterOptions } from "./http/router";
import { PublishRequest, PublishService } from "./publish";
import { AuthoritySecrets } from "./secrets";
import { AuthorityStore } from "./store/store";
import { CertificateRequest, IssueRequest, VerificationService, VerifyRequest } from "./verification";

/**
 * The authority as one object: services wired to a store, and the HTTP routes over them. startServer
 * (server.ts) puts it on a socket; tests can also drive it in-process.
 */
export interface AuthorityAppOptions {
  config: AuthorityConfig;
  secrets: AuthoritySecrets;
  store: AuthorityStore;
  /** Milliseconds clock; defaults to Date.now. */
  now?: () => number;
  /** Log sink (stderr by default). Lines never contain secrets, codes, tokens, keys or bodies. */
  log?: (line: string) => void;
  /** Start background work (F1 resolution) on upload; tests may turn it off and call runPendingWork(). */
  backgroundWork?: boolean;
}

export class AuthorityApp {
  readonly config: AuthorityConfig;
  readonly store: AuthorityStore;
  readonly verification: VerificationService;
  readonly publisher: PublishService;
  readonly bandLogs: BandLogService;
  readonly bands: BandRegistry;
  readonly contacts: ContactList;
  readonly exports: ExportBatcher;
  /** The export directory for a CDN (config exports.publishDir), or null. */
  readonly exportDir: ExportPublisher | null;
  /** The export bucket for a CDN (config exports.s3), or null. */
  readonly exportBucket: ExportPublisher | null;
  readonly f1: F1Resolver;
  /** Background work (exports, purge, F1): last run and last failure, shown by /healthz. */
  readonly backgroundStatus = {
    lastRunAt: null as number | null,
    lastError: null as string | null,
    lastErrorAt: null as number | null,
    failures: 0,
  };
  private readonly routerOptions: RouterOptions;
  private readonly lockout: LockoutTable | null;
  /** The rate-limit buckets: in the shared database (PostgreSQL), else in memory (RateLimiter). */
  readonly rateLimiter: RateLimitTable;
  private readonly nowMs: () => number;
  private readonly log: (line: string) => void;
  private readonly background: boolean;
  private readonly secrets: AuthoritySecrets;
  private lastPurge = -Infinity;

  constructor(o: AuthorityAppOptions) {
    this.config = o.config;
    this.store = o.store;
    this.secrets = o.secrets;
    this.nowMs = o.now ?? Date.now;
    this.log = o.log ?? ((line) => process.stderr.write(line + "\n"));
    this.background = o.backgroundWork ?? true;
    const sub = deriveServerSubkeys(o.secrets.serverKey);
    const nowS = () => Math.floor(this.nowMs() / 1000);
    this.verification = new VerificationService(
      o.store,
      o.config,
      sub.codeHash,
      o.secrets.certificateKey,
      o.secrets.certificatePublicKey,
    );
    this.publisher = new PublishService(o.store, o.config, this.verification, sub.revisionSeal);
    this.bandLogs = new BandLogService(o.store, o.config, this.verification, sub.escrowSeal);
    this.bands = new BandRegistry(o.store, o.config, sub.escrowSeal, sub.syncKeySeal);
    this.contacts = new ContactList(o.store, o.config);
    // A generation (background pass or an index.txt request) syncs the export directory at once.
    this.exports = new ExportBatcher(o.store, o.config, o.secrets, (_files, now) => {
      void this.exportDir?.update(now, true);
      void this.exportBucket?.update(now, true);
    });
    const publishTo = (target: ExportTarget) =>
      new ExportPublisher({
        target,
        store: o.store,
        retentionDays: o.config.exports.retentionDays,
        signingKeyPem: publicKeyPem(o.secrets.exportPublicKey),
        signingKeysJson: signingKeysJson(o.config.exports.keyId, o.secrets.exportKeys),
        log: this.log,
      });
    this.exportDir = o.config.exports.publishDir ? publishTo(directoryTarget(o.config.exports.publishDir)) : null;
    this.exportBucket = o.config.exports.s3 ? publishTo(bucketTarget(o.config.exports.s3)) : null;
    this.f1 = new F1Resolver({
      store: o.store,
      config: o.config,
      escrowSealKey: sub.escrowSeal,
      now: nowS,
      log: this.log,
    });
    const rl = o.config.rateLimits;
    const lockoutSettings = {
      maxFailures: rl.lockoutFailures,
      windowS: rl.lockoutWindowMinutes * 60,
      lockS: rl.lockoutMinutes * 60,
      maxBuckets: rl.maxBuckets,
    };
    // A store shared by several API nodes keeps the limits in the database, so they hold across the nodes.
    const shared = o.store.sharedGuards?.(lockoutSettings, this.nowMs);
    this.rateLimiter = shared?.rateLimiter ?? new RateLimiter(this.nowMs, rl.maxBuckets);
    this.lockout = rl.enabled
      ? (shared?.lockout ??
        new Lockout(this.nowMs, lockoutSettings.maxFailures, lockoutSettings.windowS, lockoutSettings.lockS))
      : null;
    const proxies = o.config.trustProxy
      ? o.config.trustedProxies.length
        ? o.config.trustedProxies
        : LOOPBACK_PROXIES
      : [];
    this.routerOptions = {
      apiKeys: o.secrets.apiKeys,
      rateLimits: {
        enabled: rl.enabled,
        verify: rl.verifyPerMinute,
        certificate: rl.certificatePerMinute,
        publish: rl.publishPerMinute,
        bandLog: rl.bandLogPerMinute,
        admin: rl.adminPerMinute,
        public: rl.publicPerMinute,
      },
      trustedProxies: proxyMatcher(proxies),
      lockout: this.lockout,
      rateLimiter: this.rateLimiter,
      nowMs: this.nowMs,
      log: this.log,
      defaultBodyLimit: o.config.limits.jsonBytes,
      maxConnections: o.config.limits.maxConnections,
      onAuthFailure: (ip, path) => {
        void this.store.audit({
          at: nowS(),
          actor: "anonymous",
          action: "auth.failed",
          subject: path,
          ip,
          detail: null,
        });
      },
    };
  }

  /** The HTTP layer (fastify) on a server made by `serverFactory` (plain HTTP or HTTPS). */
  createHttp(serverFactory: (handler: http.RequestListener) => http.Server): FastifyInstance {
    return buildHttp(this.routes(), this.routerOptions, serverFactory);
  }

  /**
   * runPendingWork for the timer: a failure is logged (message only) and kept for /healthz, never thrown,
   * and the next run tries again.
   */
  async runBackgroundWork(): Promise<void> {
    try {
      await this.runPendingWork();
      this.backgroundStatus.lastRunAt = Math.floor(this.nowMs() / 1000);
    } catch (e) {
      this.backgroundStatus.failures++;
      this.backgroundStatus.lastError = (e as Error)?.message ?? String(e);
      this.backgroundStatus.lastErrorAt = Math.floor(this.nowMs() / 1000);
      this.log(`authority: background work failed: ${this.backgroundStatus.lastError}`);
    }
  }

  /**
   * Background work: resolves queued band logs, builds closed export windows, (at most hourly) purges data
   * past its retention, and brings the export directory and bucket (exports.publishDir, exports.s3) up to date. Resolves when all of
   * it is done. A failure to write the directory is logged and retried at the next pass, never thrown.
   */
  async runPendingWork(): Promise<void> {
    const now = Math.floor(this.nowMs() / 1000);
    if (this.config.deployment === "escrow" && !this.config.f1Workers) await this.f1.kick();
    await this.exports.ensureBatches(now);
    let purgedExports = false;
    if (now - this.lastPurge >= 3600) {
      this.lastPurge = now;
      purgedExports = ((await this.purge(now)).exportFiles ?? 0) > 0;
    }
    // A generation above already started a sync (onBuilt); this waits for it, and catches up after failures.
    await Promise.all([this.exportDir?.update(now, purgedExports), this.exportBucket?.update(now, purgedExports)]);
  }

  /** Starts F1 resolution in the background; failures are recorded on the log, never thrown here. */
  private kickF1(): void {
    if (this.config.f1Workers) return;
    this.f1.kick().catch((e: Error) => this.log(`authority: F1 queue stopped: ${e.message}`));
  }

  /** Deletes what is past its retention period; the counts go to the audit log. */
  async purge(now: number): Promise<Record<string, number>> {
    const r = this.config.retention;
    const day = 86400;
    const counts = await this.store.purge({
      keysEndingBefore: now - r.keysDays * day,
      logsBefore: now - r.bandLogDays * day,
      codesExpiredBefore: now - r.codesDays * day,
      certificatesUsedBefore: now - 2 * day,
      exportFilesEndingBefore: now - this.config.exports.retentionDays * day,
      auditBefore: now - r.auditDays * day,
      // A bucket idle for a minute has refilled, and a lockout whose lock and failure window have both ended
      // counts nothing: either row is the same as none (kept in the database by the PostgreSQL store).
      rateBucketsIdleBefore: now - 60,
      lockoutsEndedBefore: now - this.config.rateLimits.lockoutWindowMinutes * 60,
    });
    if (Object.values(counts).some((n) => n > 0)) {
      await this.store.audit({
        at: now,
        actor: "system",
        action: "retention.purged",
        subject: null,
        ip: null,
        detail: counts,
      });
    }
    return counts;
  }

  /**
   * Runs a code or token check; a failed guess is audited (reason, caller, address; never the guess) and
   * counted towards the lockout of the caller's address and API key.
   */
  private async failedGuess<T>(ctx: RequestContext, action: string, check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (e) {
      if (e instanceof HttpError && GUESS_FAILURES.has(e.code)) {
        await this.audit(ctx, action, null, { reason: e.code });
        const locked = (await this.lockout?.fail(lockoutKeys(ctx.ip, ctx.actor))) ?? [];
        for (const key of locked) {
          await this.audit(ctx, "auth.locked_out", key.startsWith("key|") ? key.slice(4) : "address", {
            after: this.config.rateLimits.lockoutFailures,
          });
        }
      }
      throw e;
    }
  }

  private audit(
    ctx: RequestContext,
    action: string,
    subject: string | null,
    detail: Record<string, unknown> | null,
    actor?: string,
  ) {
    return this.store.audit({
      at: ctx.now,
      actor: actor ?? (ctx.actor ? `${ctx.actor.role}:${ctx.actor.name}` : "anonymous"),
      action,
      subject,
      ip: ctx.ip,
      detail,
    });
  }

  /** Throws the 404 of a node configured with exports.serve false (phones fetch exports from the CDN). */
  private servingExports(): Record<string, never> {
    const e = this.config.exports;
    if (e.serve) return {};
    throw new HttpError(
      404,
      "exports_not_served",
      e.cdnUrl
        ? `export files are not served by this node; fetch them from ${e.cdnUrl}`
        : "export files are not served by this node; fetch them from the export CDN",
      e.cdnUrl ? { cdnUrl: e.cdnUrl } : {},
    );
  }

  private routes(): RouteDef[] {
    const c = this.config;
    const json = { kind: "json" as const, max: c.limits.jsonBytes };
    const escrowOnly = () => {
      if (c.deployment !== "escrow") {
        throw new HttpError(404, "escrow_disabled", "F1 resolution is part of the escrow deployment only");
      }
    };
    return [
      {
        method: "GET",
        path: "/healthz",
        rate: "public",
        handler: async () => ({
          status: 200,
          // Background failures are listed once there are any (the server still answers, so ok stays true).
          json: {
            ok: true,
            deployment: c.deployment,
            region: c.region,
            ...(this.backgroundStatus.failures > 0 ? { background: { ok: false, ...this.backgroundStatus } } : {}),
            // A failing export directory (the cause, with its path, is in the log, not on this public page).
            ...(this.exportDir?.lastError ? { exportDir: { ok: false } } : {}),
            ...(this.exportBucket?.lastError ? { exportBucket: { ok: false } } : {}),
          },
        }),
      },
      // ---- verification (google/exposure-notifications-verification-server API)
      {
        method: "POST",
        path: "/api/issue",
        roles: ["admin"],
        rate: "admin",
        body: { ...json, schema: IssueRequest },
        handler: async (ctx) => {
          const r = await this.verification.issueCode(ctx.actor!, ctx.json as z.infer<typeof IssueRequest>, ctx.now);
          await this.audit(ctx, "code.issued", r.uuid, { testType: r.testType });
          return { status: 200, json: r };
        },
      },
      {
        method: "POST",
        path: "/api/verify",
        roles: ["kiosk", "admin"],
        rate: "verify",
        body: { ...json, schema: VerifyRequest },
        errorCodeField: true,
        handler: async (ctx) => {
          const body = ctx.json as z.infer<typeof VerifyRequest>;
          const r = await this.failedGuess(ctx, "code.failed", () => this.verification.verifyCode(body, ctx.now));
          await this.audit(ctx, "code.verified", null, { testType: r.testtype });
          return { status: 200, json: r };
        },
      },
      {
        method: "POST",
        path: "/api/certificate",
        roles: ["kiosk", "admin"],
        rate: "certificate",
        body: { ...json, schema: CertificateRequest },
        errorCodeField: true,
        handler: async (ctx) => {
          const body = ctx.json as z.infer<typeof CertificateRequest>;
          const r = await this.failedGuess(ctx, "token.failed", () =>
            this.verification.issueCertificate(body, ctx.now),
          );
          await this.audit(ctx, "certificate.issued", r.jti, null);
          return { status: 200, json: { certificate: r.certificate, expiresAt: r.expiresAt } };
        },
      },
      {
        method: "GET",
        path: "/api/codes/:uuid",
        roles: ["admin"],
        rate: "admin",
        handler: async (ctx) => {
          const code = await this.store.getCodeByUuid(ctx.params.uuid);
          if (!code) throw new HttpError(404, "not_found", "no such verification code");
          return {
            status: 200,
            json: {
              uuid: code.uuid,
              testType: code.testType,
              claimed: code.claimedAt !== null,
              certificateIssued: code.tokenUsedAt !== null,
              expiresAtTimestamp: code.expiresAt,
              issuedBy: code.issuedBy,
            },
          };
        },
      },
      {
        method: "GET",
        path: "/.well-known/jwks.json",
        rate: "public",
        handler: async () => {
          const jwk = this.secrets.certificatePublicKey.export({ format: "jwk" });
          return {
            status: 200,
            json: { keys: [{ ...jwk, kid: c.verification.keyId, alg: "ES256", use: "sig" }] },
            headers: { "Cache-Control": "public, max-age=300" },
          };
        },
      },
      // ---- key server
      {
        method: "POST",
        path: "/v1/publish",
        rate: "publish",
        body: { kind: "json", max: c.limits.publishBytes, schema: PublishRequest },
        handler: async (ctx) => {
          const r = await this.publisher.publish(ctx.json as z.infer<typeof PublishRequest>, ctx.now);
          await this.audit(
            ctx,
            "keys.published",
            r.jti,
            { inserted: r.insertedExposures, revised: r.revisedExposures, reportType: r.reportType },
            "certificate:" + r.jti.slice(0, 8),
          );
          const { jti: _jti, reportType: _rt, ...body } = r;
          return { status: 200, json: body };
        },
      },
      {
        method: "POST",
        path: "/v1/band-logs",
        rate: "bandLog",
        body: { kind: "binary", max: c.limits.bandLogBytes, types: BAND_LOG_TYPES },
        authorize: (ctx: PreBodyContext) => this.bandLogs.authorize(ctx.headers, ctx.now),
        handler: async (ctx) => {
          const r = await this.bandLogs.upload(ctx.auth as BandLogAuth, ctx.body, ctx.now);
          await this.audit(
            ctx,
            r.duplicate ? "bandlog.duplicate" : "bandlog.stored",
            String(r.logId),
            { records: r.records, segments: r.segments },
            "certificate:" + r.jti.slice(0, 8),
          );
          if (!r.duplicate && r.resolution === "pending" && this.background) this.kickF1();
          const { jti: _jti, ...body } = r;
          return { status: r.duplicate ? 200 : 201, json: body };
        },
      },
      {
        method: "GET",
        path: "/v1/exports/index.txt",
        rate: "public",
        handler: async (ctx) => ({
          ...this.servingExports(),
          status: 200,
          body: await this.exports.index(ctx.now),
          contentType: "text/plain; charset=utf-8",
          headers: { "Cache-Control": "public, max-age=60" },
        }),
      },
      {
        method: "GET",
        path: "/v1/exports/signing-key.pem",
        rate: "public",
        handler: async () => ({
          ...this.servingExports(),
          status: 200,
          body: publicKeyPem(this.secrets.exportPublicKey),
          contentType: "application/x-pem-file",
          headers: { "Cache-Control": "public, max-age=300" },
        }),
      },
      {
        method: "GET",
        path: "/v1/exports/signing-keys.json",
        rate: "public",
        handler: async () => ({
          ...this.servingExports(),
          status: 200,
          body: signingKeysJson(c.exports.keyId, this.secrets.exportKeys),
          contentType: "application/json",
          headers: { "Cache-Control": "public, max-age=300" },
        }),
      },
      {
        method: "GET",
        path: "/v1/exports/:name",
        rate: "public",
        handler: async (ctx) => {
          this.servingExports();
          const name = ctx.params.name;
          const f = EXPORT_FILE_NAME.test(name) ? await this.store.getExportFile(name) : undefined;
          if (!f) throw new HttpError(404, "not_found", "no such export file");
          return {
            status: 200,
            body: f.zip,
            contentType: "application/zip",
            headers: { "Cache-Control": "public, max-age=86400, immutable" },
          };
        },
      },
      // ---- band registry
      {
        method: "POST",
        path: "/api/bands",
        roles: ["admin", "flasher"],
        rate: "admin",
        body: { ...json, schema: RegisterBandRequest },
        handler: async (ctx) => {
          const r = await this.bands.register(ctx.actor!, ctx.json as z.infer<typeof RegisterBandRequest>, ctx.now);
          const entry = registrationAudit(r);
          if (entry) await this.audit(ctx, entry.action, entry.subject, entry.detail);
          return { status: r.status === "created" ? 201 : 200, json: { status: r.status, ...r.band } };
        },
      },
      {
        method: "GET",
        path: "/api/bands/:id",
        roles: ["admin", "flasher"],
        rate: "admin",
        handler: async (ctx) => {
          const b = await this.bands.get(ctx.params.id);
          if (!b) throw new HttpError(404, "not_found", "no such band");
          return { status: 200, json: b };
        },
      },
      {
        method: "DELETE",
        path: "/api/bands/:id",
        roles: ["admin"],
        rate: "admin",
        handler: async (ctx) => {
          if (!(await this.bands.remove(ctx.params.id, ctx.now))) throw new HttpError(404, "not_found", "no such band");
          await this.audit(ctx, "band.deleted", ctx.params.id.toLowerCase(), null);
          return { status: 200, json: { deleted: true } };
        },
      },
      {
        // A kiosk reports what a band's STATUS frame said at a sync: its fault and reset counters and battery.
        method: "POST",
        path: "/api/kiosk/bands/:id/health",
        roles: ["kiosk", "admin"],
        rate: "admin",
        body: { ...json, schema: BandHealthReport },
        handler: async (ctx) => {
          const report = ctx.json as BandHealth;
          if (!(await this.bands.recordHealth(ctx.actor!, ctx.params.id, report)))
            throw new HttpError(404, "not_found", "no such band");
          return { status: 200, json: { recorded: true } };
        },
      },
      {
        // Kiosks sync bands with their sync keys: a kiosk key reads every band's (docs/authority.md).
        method: "GET",
        path: "/api/kiosk/bands",
        roles: ["kiosk", "admin"],
        rate: "admin",
        handler: async (ctx) => {
          const { since } = parseWith(KioskBandsQuery, Object.fromEntries(ctx.query));
          const r = await this.bands.listForKiosk(since === undefined ? undefined : parseSince(since), ctx.now);
          await this.audit(ctx, "bands.synckeys.listed", null, {
            count: r.bands.length,
            deleted: r.deleted.length,
            incremental: since !== undefined,
          });
          return { status: 200, json: r, headers: { "Cache-Control": "no-store" } };
        },
      },
      // ---- band logs and F1 worklist (escrow deployments)
      {
        method: "GET",
        path: "/api/band-logs",
        roles: ["admin"],
        rate: "admin",
        handler: async (ctx) => {
          const { limit, offset } = parseWith(LogPage, Object.fromEntries(ctx.query));
          const logs = await this.store.listBandLogs(limit, offset);
          return { status: 200, json: { logs: logs.map(logView) } };
        },
      },
      {
        method: "GET",
        path: "/api/band-logs/:id",
        roles: ["admin"],
        rate: "admin",
        handler: async (ctx) => {
          const l = /^\d{1,15}$/.test(ctx.params.id) ? await this.store.getBandLog(Number(ctx.params.id)) : undefined;
          if (!l) throw new HttpError(404, "not_found", "no such band log");
          return { status: 200, json: logView(l) };
        },
      },
      {
        method: "POST",
        path: "/api/band-logs/:id/resolve",
        roles: ["admin"],
        rate: "admin",
        handler: async (ctx) => {
          escrowOnly();
          const l = /^\d{1,15}$/.test(ctx.params.id) ? await this.store.getBandLog(Number(ctx.params.id)) : undefined;
          if (!l) throw new HttpError(404, "not_found", "no such band log");
          await this.store.setResolution(l.id, "pending", ctx.now, null);
          await this.audit(ctx, "f1.requeued", String(l.id), null);
          if (this.background) this.kickF1();
          return { status: 202, json: { logId: l.id, resolution: "pending" } };
        },
      },
      {
        method: "GET",
        path: "/api/contacts",
        roles: ["admin"],
        rate: "admin",
        handler: async (ctx) => {
          escrowOnly();
          const q = parseWith(ContactQuery, Object.fromEntries(ctx.query.entries()));
          const rows = await this.contacts.list(q);
          await this.audit(ctx, "contacts.listed", null, { rows: rows.length });
          const accept = String(ctx.headers["accept"] ?? "");
          if (q.format === "csv" || (q.format === undefined && accept.includes("text/csv"))) {
            return {
              status: 200,
              body: this.contacts.toCsv(rows),
              contentType: "text/csv; charset=utf-8",
              headers: { "Content-Disposition": 'attachment; filename="contacts.csv"' },
            };
          }
          return { status: 200, json: { buckets: this.contacts.bucketLabels(), contacts: rows } };
        },
      },
      {
        method: "POST",
        path: "/api/contacts/:id/status",
        roles: ["admin"],
        rate: "admin",
        body: json,
        handler: async (ctx) => {
          escrowOnly();
          const { status } = parseWith(ContactStatusRequest, ctx.json);
          await this.contacts.setStatus(ctx.params.id, status, ctx.now);
          await this.audit(ctx, "contact.status", ctx.params.id, { status });
          return { status: 200, json: { id: Number(ctx.params.id), status } };
        },
      },
      // ---- operations
      {
        method: "GET",
        path: "/api/stats",
        roles: ["admin"],
        rate: "admin",
        handler: async () => ({ status: 200, json: await this.store.counts() }),
      },
      {
        method: "GET",
        path: "/api/audit",
        roles: ["admin"],
        rate: "admin",
        handler: async (ctx) => {
          const { limit, before } = parseWith(AuditPage, Object.fromEntries(ctx.query));
          const entries = await this.store.listAudit(limit, before);
          return { status: 200, json: { entries } };
        },
      },
    ];
  }
}

/** Query integers: digits only (no fractions, exponents or signs), so `?limit=1.5` is a 400, not a 500. */
const QueryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,15}$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const LogPage = z.object({
  limit: QueryInt(1, 500).default(100),
  offset: QueryInt(0, 10_000_000).default(0),
});

const KioskBandsQuery = z.object({ since: z.string().max(64).optional() }).strict();

const AuditPage = z.object({
  limit: QueryInt(1, 1000).default(100),
  before: QueryInt(0, Number.MAX_SAFE_INTEGER).optional(),
});

/** Verification failures that are guesses (unknown, used or expired code or token). */
const GUESS_FAILURES = new Set(["code_invalid", "code_expired", "token_invalid", "token_expired"]);

function logView(l: import("./store/store").BandLogRow) {
  return {
    id: l.id,
    bandId: l.bandId,
    sha256: l.sha256.toString("hex"),
    size: l.size,
    segments: l.segments,
    records: l.records,
    uploadedAt: new Date(l.uploadedAt * 1000).toISOString(),
    reportType: l.reportType,
    resolution: l.resolution,
    resolvedAt: l.resolvedAt !== null ? new Date(l.resolvedAt * 1000).toISOString() : null,
    summary: l.resolutionSummary ? (JSON.parse(l.resolutionSummary) as unknown) : null,
  };
}

import { randomBytes, randomInt } from "crypto";
import * as http from "http";
import Fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { Actor, ApiKeyEntry, matchApiKey, Role } from "../crypto/api-keys";
import { HttpError, zodHttpError } from "./errors";
import { clientIp, LockoutTable, RateLimiter, RateLimitTable } from "./rate-limit";
import { malformedTarget, originForm } from "./target";

/** Route classes, each with its own per-client rate limit (config.rateLimits). */
export type RateClass = "verify" | "certificate" | "publish" | "bandLog" | "admin" | "public";

/** What a route sees before its body is read (enough to authenticate the caller). */
export interface PreBodyContext {
  headers: http.IncomingHttpHeaders;
  params: Record<string, string>;
  ip: string;
  actor: Actor | null;
  /** Request time, Unix seconds (from the app clock). */
  now: number;
}

export interface RequestContext extends PreBodyContext {
  query: URLSearchParams;
  /** Raw body (binary routes). */
  body: Buffer;
  /** Parsed and validated JSON body for `kind: "json"` routes. */
  json: unknown;
  /** What the route's `authorize` step returned. */
  auth: unknown;
}

export interface Reply {
  status: number;
  json?: unknown;
  body?: Buffer | string;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface RouteDef {
  method: "GET" | "POST" | "DELETE";
  /** Path with `:name` segments. */
  path: string;
  /** Roles allowed (X-API-Key); undefined = no API key needed. */
  roles?: Role[];
  rate: RateClass;
  /** A JSON body is parsed and then validated with `schema`; a binary body is passed as bytes. */
  body?: { kind: "json" | "binary"; max: number; types?: string[]; schema?: z.ZodType };
  /** Runs after the API key check and before the body is read: refuse unauthenticated uploads early. */
  authorize?: (ctx: PreBodyContext) => Promise<unknown>;
  /** Errors of this route also carry `errorCode` (the verification API's clients read that field). */
  errorCodeField?: boolean;
  handler: (ctx: RequestContext) => Promise<Reply>;
}

export interface RouterOptions {
  apiKeys: readonly ApiKeyEntry[];
  rateLimits: Record<RateClass, number> & { enabled: boolean };
  /** Whether an address is one of our proxies, whose X-Forwarded-For is believed (see clientIp). */
  trustedProxies: (addr: string) => boolean;
  /** Repeated failed guesses (codes, tokens) lock out a key and an address for a while. */
  lockout: LockoutTable | null;
  /** Rate-limit buckets shared by every API node; in memory for this process when absent. */
  rateLimiter?: RateLimitTable;
  /** Milliseconds clock (tests pass a fake one). */
  nowMs: () => number;
  log: (line: string) => void;
  /** Called for authentication failures (audit log). */
  onAuthFailure: (ip: string, path: string) => void;
  /** Default body limit for routes without a body (a stray body is read and ignored up to this size). */
  defaultBodyLimit: number;
  /** Concurrent connections accepted; further ones are closed at once. */
  maxConnections: number;
}

interface RouteState {
  def: RouteDef;
  segments: string[];
}

declare module "fastify" {
  interface FastifyRequest {
    tl: { started: number; ip: string; actor: Actor | null; auth: unknown; malformed: boolean };
  }
  interface FastifyContextConfig {
    tl?: RouteState;
  }
}

const SECURITY_HEADERS = { "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store" };

/**
 * The HTTP layer on fastify: routing, request-target checks, rate limits, API keys, body size and type, JSON
 * parsing and zod validation, one JSON error shape, security headers, one log line per request on stderr
 * (method, path without query, status, time: never bodies, keys, codes or tokens). No exception thrown while
 * answering a request can end the process: everything ends in the error handler as a JSON answer.
 */
export function buildHttp(
  routes: RouteDef[],
  opts: RouterOptions,
  serverFactory: (handler: http.RequestListener) => http.Server,
): FastifyInstance {
  const limiter = opts.rateLimiter ?? new RateLimiter(opts.nowMs);
  const states = routes.map((def) => ({ def, segments: def.path.split("/").filter(Boolean) }));
  const app = Fastify({
    serverFactory: (handler) => {
      const server = serverFactory(handler);
      // Bounded time per request and for headers: slow clients cannot hold connections open.
      server.requestTimeout = 60_000;
      server.headersTimeout = 20_000;
      server.keepAliveTimeout = 5_000;
      server.maxHeadersCount = 100;
      server.maxConnections = opts.maxConnections;
      return server;
    },
    logger: false,
    bodyLimit: opts.defaultBodyLimit,
    // Close idle keep-alive connections on shutdown; in-flight requests are answered first.
    forceCloseConnections: "idle",
    return503OnClosing: true,
    exposeHeadRoutes: true,
    requestIdHeader: false,
    routerOptions: {
      maxParamLength: 200,
      querystringParser: (s: string) => ({ raw: s }),
    },
    rewriteUrl: (req) => originForm(req.url ?? "/"),
    frameworkErrors: (error, request, reply) => {
      request.tl ??= freshState(true);
      void sendError(reply, new HttpError(400, "bad_request", "malformed request target"), opts.log, error);
    },
  });

  app.decorateRequest("tl", null as never);
  app.removeAllContentTypeParsers();
  // Bodies are read as bytes; JSON is parsed here so a parse failure is one clear 400.
  app.addContentTypeParser("*", { parseAs: "buffer" }, (req, body, done) => {
    const state = req.routeOptions.config.tl;
    if (state?.def.body?.kind !== "json") return done(null, body);
    try {
      done(null, JSON.parse((body as Buffer).toString("utf8")));
    } catch {
      done(new HttpError(400, "bad_json", "request body is not valid JSON"), undefined);
    }
  });
  app.setValidatorCompiler(({ schema, url, method }) => {
    const state = states.find((s) => s.def.path === url && s.def.method === method);
    return (data: unknown) => {
      const r = (schema as z.ZodType).safeParse(data);
      if (r.success) return { value: r.data };
      const e = zodHttpError(r.error);
      return { error: (state?.def.errorCodeField ? withErrorCode(e) : e) as Error };
    };
  });

  app.addHook("onRequest", async (request) => {
    request.tl = freshState(malformedTarget(request.url));
    if (request.tl.malformed) throw new HttpError(400, "bad_request", "malformed request target");
    const state = request.routeOptions.config.tl;
    if (!state) return;
    const def = state.def;
    const ip = clientIp(request.raw.socket.remoteAddress, request.headers["x-forwarded-for"], opts.trustedProxies);
    request.tl.ip = ip;
    if (opts.rateLimits.enabled) {
      const wait = await limiter.take(def.rate + "|" + ip, opts.rateLimits[def.rate]);
      if (wait > 0) {
        throw new HttpError(429, "rate_limited", `too many requests; retry in ${wait} s`, {
          headers: { "Retry-After": String(wait) },
        });
      }
    }
    if (def.roles) {
      const presented = request.headers["x-api-key"];
      const actor = matchApiKey(opts.apiKeys, typeof presented === "string" ? presented : undefined) ?? null;
      if (!actor) {
        opts.onAuthFailure(ip, pathOf(request.url));
        throw new HttpError(401, "unauthorized", "missing or unknown API key (X-API-Key header)");
      }
      if (!def.roles.includes(actor.role)) {
        throw new HttpError(403, "forbidden", `a ${actor.role} key may not call ${def.method} ${def.path}`);
      }
      request.tl.actor = actor;
    }
    if (opts.lockout && (def.rate === "verify" || def.rate === "certificate"))
      await lockedOut(opts.lockout, request.tl);
    if (def.body) {
      const type = String(request.headers["content-type"] ?? "")
        .split(";")[0]
        .trim()
        .toLowerCase();
      const allowed =
        def.body.types ?? (def.body.kind === "json" ? ["application/json"] : ["application/octet-stream"]);
      if (!allowed.includes(type)) {
        throw new HttpError(415, "unsupported_media_type", `Content-Type must be ${allowed.join(" or ")}`);
      }
      // A declared size over the limit is refused before anything else is looked at (or read).
      const declared = request.headers["content-length"];
      if (declared !== undefined && (!/^\d{1,15}$/.test(declared) || Number(declared) > def.body.max)) {
        throw new HttpError(413, "body_too_large", `request body is larger than ${def.body.max} bytes`);
      }
    }
    if (def.authorize) {
      request.tl.auth = await def.authorize(preBody(request, opts.nowMs));
    }
  });

  app.addHook("onResponse", async (request, reply) => {
    const started = request.tl?.started ?? Date.now();
    const where = request.tl?.malformed ? "(malformed target)" : pathOf(request.url).slice(0, 200);
    opts.log(`authority: ${request.method} ${where} ${reply.statusCode} ${Date.now() - started}ms`);
  });

  app.setErrorHandler((error, request, reply) => {
    request.tl ??= freshState(false);
    const max = request.routeOptions.config.tl?.def.body?.max ?? opts.defaultBodyLimit;
    return sendError(reply, error, opts.log, error, request.url, max);
  });

  app.setNotFoundHandler(async (request) => {
    const segs = pathOf(request.url).split("/").filter(Boolean);
    const methodHere = states.some((s) => matchPath(s.segments, segs));
    const path = pathOf(request.url);
    if (methodHere) throw new HttpError(405, "method_not_allowed", `${request.method} is not allowed on ${path}`);
    throw new HttpError(404, "not_found", `no such endpoint: ${path}`);
  });

  for (const state of states) {
    const def = state.def;
    app.route({
      method: def.method,
      url: def.path,
      bodyLimit: def.body?.max ?? opts.defaultBodyLimit,
      config: { tl: state },
      schema: def.body?.schema ? { body: def.body.schema } : undefined,
      handler: async (request, reply) => {
        const ctx: RequestContext = {
          ...preBody(request, opts.nowMs),
          query: new URLSearchParams(request.url.split("?")[1] ?? ""),
          body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
          json: def.body?.kind === "json" ? request.body : undefined,
          auth: request.tl.auth,
        };
        let r: Reply;
        try {
          r = await def.handler(ctx);
        } catch (e) {
          throw def.errorCodeField ? withErrorCode(e) : e;
        }
        return send(reply, r);
      },
    });
  }
  return app;
}

function freshState(malformed: boolean): FastifyRequest["tl"] {
  return { started: Date.now(), ip: "unknown", actor: null, auth: undefined, malformed };
}

function preBody(request: FastifyRequest, nowMs: () => number): PreBodyContext {
  return {
    headers: request.headers,
    params: (request.params ?? {}) as Record<string, string>,
    ip: request.tl.ip,
    actor: request.tl.actor,
    now: Math.floor(nowMs() / 1000),
  };
}

async function lockedOut(lockout: LockoutTable, tl: FastifyRequest["tl"]): Promise<void> {
  const wait = await lockout.wait(lockoutKeys(tl.ip, tl.actor));
  if (wait > 0) {
    throw new HttpError(429, "locked_out", `too many failed attempts; retry in ${wait} s`, {
      headers: { "Retry-After": String(wait) },
    });
  }
}

/** The lockout counters a failed guess by this caller counts against: its address and its API key. */
export function lockoutKeys(ip: string, actor: Actor | null): string[] {
  return actor ? ["ip|" + ip, `key|${actor.role}:${actor.name}`] : ["ip|" + ip];
}

function pathOf(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

function matchPath(pattern: string[], segs: string[]): boolean {
  if (pattern.length !== segs.length) return false;
  return pattern.every((p, i) => p.startsWith(":") || p === segs[i]);
}

/** The verification API names its error field errorCode (reference clients read that). */
function withErrorCode(e: unknown): unknown {
  if (e instanceof HttpError) return new HttpError(e.status, e.code, e.message, { ...e.extra, errorCode: e.code });
  return e;
}

function sendError(
  reply: FastifyReply,
  e: unknown,
  log: (line: string) => void,
  original: unknown,
  url?: string,
  max?: number,
): FastifyReply {
  const r = errorReply(e, log, url ? pathOf(url) : "(malformed target)", original, max);
  // A refused body may still be streaming in: answer and close the connection (the request timeout bounds
  // how long a client can keep sending).
  if (r.status === 413 || r.status === 415 || r.status === 429) r.headers = { ...r.headers, Connection: "close" };
  return send(reply, r);
}

function errorReply(e: unknown, log: (line: string) => void, path: string, original: unknown, max?: number): Reply {
  if (e instanceof HttpError) {
    const { headers, ...extra } = e.extra as { headers?: Record<string, string> };
    return { status: e.status, json: { error: e.message, code: e.code, ...extra }, headers };
  }
  const fe = original as Partial<FastifyError> | undefined;
  switch (fe?.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return errorReply(
        new HttpError(413, "body_too_large", `request body is larger than ${max ?? "the limit of"} bytes`),
        log,
        path,
        undefined,
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return errorReply(new HttpError(415, "unsupported_media_type", "unsupported Content-Type"), log, path, undefined);
  }
  const status = fe?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return errorReply(new HttpError(status, "bad_request", "malformed request"), log, path, undefined);
  }
  // Log only the message: stacks and values may hold request data.
  log(`authority: internal error on ${path}: ${(e as Error)?.message ?? String(e)}`);
  return { status: 500, json: { error: "internal error", code: "internal_error" } };
}

function send(reply: FastifyReply, r: Reply): FastifyReply {
  reply.code(r.status);
  reply.headers({ ...SECURITY_HEADERS, ...r.headers });
  if (r.json !== undefined) {
    reply.type("application/json; charset=utf-8");
    return reply.send(JSON.stringify(r.json));
  }
  reply.type(r.contentType ?? "application/octet-stream");
  return reply.send(r.body ?? "");
}

/** Random base64 padding of 0..`max` bytes, so response sizes say little about what happened. */
export function responsePadding(max = 512): string {
  return randomBytes(randomInt(0, max + 1)).toString("base64");
}

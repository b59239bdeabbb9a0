import { IncomingMessage, ServerResponse } from "http";
import { randomBytes, randomInt } from "crypto";
import { Actor, ApiKeyEntry, matchApiKey, Role } from "../crypto/api-keys";
import { readBody } from "./body";
import { HttpError } from "./errors";
import { RateLimiter } from "./rate-limit";

/** Route classes, each with its own per-client rate limit (config.rateLimits). */
export type RateClass = "verify" | "certificate" | "publish" | "bandLog" | "admin" | "public";

export interface RequestContext {
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  ip: string;
  actor: Actor | null;
  body: Buffer;
  /** Parsed JSON body for `body: "json"` routes. */
  json: unknown;
  /** Request time, Unix seconds (from the app clock). */
  now: number;
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
  body?: { kind: "json" | "binary"; max: number; types?: string[] };
  handler: (ctx: RequestContext) => Promise<Reply>;
}

export interface RouterOptions {
  apiKeys: readonly ApiKeyEntry[];
  rateLimits: Record<RateClass, number> & { enabled: boolean };
  trustProxy: boolean;
  /** Milliseconds clock (tests pass a fake one). */
  nowMs: () => number;
  log: (line: string) => void;
  /** Called for authentication failures (audit log). */
  onAuthFailure: (ip: string, path: string) => void;
}

interface CompiledRoute extends RouteDef {
  segments: string[];
}

/**
 * Request handling shared by every route: rate limit, API key, body size and type, JSON parsing, one JSON
 * error shape, security headers, one log line per request on stderr (method, path without query, status,
 * time: never bodies, keys, codes or tokens).
 */
export class Router {
  private readonly routes: CompiledRoute[];
  private readonly limiter: RateLimiter;

  constructor(
    routes: RouteDef[],
    private readonly opts: RouterOptions,
  ) {
    this.routes = routes.map((r) => ({ ...r, segments: r.path.split("/").filter(Boolean) }));
    this.limiter = new RateLimiter(opts.nowMs);
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = Date.now();
    const url = new URL(req.url ?? "/", "http://authority.invalid");
    const path = url.pathname;
    void this.dispatch(req, url, path)
      .catch((e: unknown) => errorReply(e, this.opts.log, path))
      .then((reply) => {
        // A refused body may still be streaming in: answer, close the connection, discard what still arrives
        // (the server's request timeout bounds how long a client can keep sending).
        const refused = reply.status === 413 || reply.status === 429 || reply.status === 415;
        if (refused) reply.headers = { ...reply.headers, Connection: "close" };
        send(res, reply);
        if (refused) req.resume();
        this.opts.log(`authority: ${req.method} ${path} ${reply.status} ${Date.now() - started}ms`);
      })
      .catch(() => res.destroy());
  };

  private async dispatch(req: IncomingMessage, url: URL, path: string): Promise<Reply> {
    const segs = path.split("/").filter(Boolean);
    let params: Record<string, string> | undefined;
    let route: CompiledRoute | undefined;
    let pathMatched = false;
    for (const r of this.routes) {
      const p = matchPath(r.segments, segs);
      if (!p) continue;
      pathMatched = true;
      if (r.method === req.method || (r.method === "GET" && req.method === "HEAD")) {
        route = r;
        params = p;
        break;
      }
    }
    if (!route || !params) {
      if (pathMatched) throw new HttpError(405, "method_not_allowed", `${req.method} is not allowed on ${path}`);
      throw new HttpError(404, "not_found", `no such endpoint: ${path}`);
    }
    const ip = clientIp(req, this.opts.trustProxy);
    if (this.opts.rateLimits.enabled) {
      const wait = this.limiter.take(route.rate + "|" + ip, this.opts.rateLimits[route.rate]);
      if (wait > 0) {
        throw new HttpError(429, "rate_limited", `too many requests; retry in ${wait} s`, {
          headers: { "Retry-After": String(wait) },
        });
      }
    }
    let actor: Actor | null = null;
    if (route.roles) {
      const presented = req.headers["x-api-key"];
      actor = matchApiKey(this.opts.apiKeys, typeof presented === "string" ? presented : undefined) ?? null;
      if (!actor) {
        this.opts.onAuthFailure(ip, path);
        throw new HttpError(401, "unauthorized", "missing or unknown API key (X-API-Key header)");
      }
      if (!route.roles.includes(actor.role)) {
        throw new HttpError(403, "forbidden", `a ${actor.role} key may not call ${route.method} ${route.path}`);
      }
    }
    let body: Buffer = Buffer.alloc(0);
    let json: unknown = undefined;
    if (route.body) {
      const type = String(req.headers["content-type"] ?? "")
        .split(";")[0]
        .trim()
        .toLowerCase();
      const allowed =
        route.body.types ?? (route.body.kind === "json" ? ["application/json"] : ["application/octet-stream"]);
      if (!allowed.includes(type)) {
        throw new HttpError(415, "unsupported_media_type", `Content-Type must be ${allowed.join(" or ")}`);
      }
      body = await readBody(req, route.body.max);
      if (route.body.kind === "json") {
        try {
          json = JSON.parse(body.toString("utf8"));
        } catch {
          throw new HttpError(400, "bad_json", "request body is not valid JSON");
        }
      }
    }
    const ctx: RequestContext = {
      req,
      params,
      query: url.searchParams,
      ip,
      actor,
      body,
      json,
      now: Math.floor(this.opts.nowMs() / 1000),
    };
    const reply = await route.handler(ctx);
    if (req.method === "HEAD") return { ...reply, body: "", json: undefined };
    return reply;
  }
}

function matchPath(pattern: string[], segs: string[]): Record<string, string> | undefined {
  if (pattern.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i].startsWith(":")) {
      let v: string;
      try {
        v = decodeURIComponent(segs[i]);
      } catch {
        return undefined;
      }
      params[pattern[i].slice(1)] = v;
    } else if (pattern[i] !== segs[i]) return undefined;
  }
  return params;
}

function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = req.headers["x-forwarded-for"];
    const first = (Array.isArray(xff) ? xff[0] : xff)?.split(",")[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? "unknown";
}

function errorReply(e: unknown, log: (line: string) => void, path: string): Reply {
  if (e instanceof HttpError) {
    const { headers, ...extra } = e.extra as { headers?: Record<string, string> };
    return { status: e.status, json: { error: e.message, code: e.code, ...extra }, headers };
  }
  // Log only the message: stacks and values may hold request data.
  log(`authority: internal error on ${path}: ${(e as Error)?.message ?? String(e)}`);
  return { status: 500, json: { error: "internal error", code: "internal_error" } };
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    ...reply.headers,
  };
  let payload: Buffer | string = "";
  if (reply.json !== undefined) {
    headers["Content-Type"] = "application/json; charset=utf-8";
    payload = JSON.stringify(reply.json);
  } else if (reply.body !== undefined) {
    headers["Content-Type"] = reply.contentType ?? "application/octet-stream";
    payload = reply.body;
  }
  headers["Content-Length"] = String(Buffer.byteLength(payload));
  if (res.headersSent) return;
  res.writeHead(reply.status, headers);
  res.end(payload);
}

/** Random base64 padding of 0..`max` bytes, so response sizes say little about what happened. */
export function responsePadding(max = 512): string {
  return randomBytes(randomInt(0, max + 1)).toString("base64");
}

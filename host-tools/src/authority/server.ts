import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import { AddressInfo } from "net";
import { AuthorityApp } from "./app";

/**
 * Puts an AuthorityApp on a socket: plain HTTP (for loopback, or behind a TLS-terminating proxy) or HTTPS
 * with the given certificate and key files. Runs the background work: queued F1 resolutions at start-up and
 * export batching once a minute.
 */
export interface ListenOptions {
  host: string;
  port: number;
  tls?: { certFile: string; keyFile: string };
  /** How long close() waits for in-flight requests before cutting connections (default 10 s). */
  drainMs?: number;
}

export interface RunningAuthority {
  url: string;
  host: string;
  port: number;
  server: http.Server;
  /** Stops accepting, answers the requests in flight (up to drainMs), then closes every connection. */
  close(): Promise<void>;
}

export async function startServer(app: AuthorityApp, o: ListenOptions): Promise<RunningAuthority> {
  let factory: (handler: http.RequestListener) => http.Server;
  if (o.tls) {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = fs.readFileSync(o.tls.certFile);
      key = fs.readFileSync(o.tls.keyFile);
    } catch (e) {
      throw new Error(`cannot read TLS certificate or key: ${(e as Error).message}`);
    }
    factory = (handler) => https.createServer({ cert, key, minVersion: "TLSv1.2" }, handler);
  } else {
    factory = (handler) => http.createServer(handler);
  }
  const fastify = app.createHttp(factory);
  try {
    await fastify.listen({ port: o.port, host: o.host, listenTextResolver: () => "" });
  } catch (e) {
    await fastify.close().catch(() => undefined);
    throw e;
  }
  const server = fastify.server;
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  await app.store.requeueInterrupted(app.config.f1LeaseSeconds);
  let work: Promise<void> = app.runBackgroundWork();
  const timer = setInterval(() => {
    work = app.runBackgroundWork();
  }, 60_000);
  timer.unref();
  return {
    url: `${o.tls ? "https" : "http"}://${hostForUrl}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    server,
    close: async () => {
      clearInterval(timer);
      const drainMs = o.drainMs ?? 10_000;
      const cut = setTimeout(() => server.closeAllConnections(), drainMs);
      // fastify.close() stops listening, closes idle keep-alive connections and waits for requests in flight.
      await fastify.close();
      clearTimeout(cut);
      // Let a background run (an export being built) finish before the database closes, within the same bound;
      // what it has not committed by then is redone at the next start (every step is one transaction).
      let waited: NodeJS.Timeout | undefined;
      const exports = Promise.all([app.exportDir?.idle(), app.exportBucket?.idle()]);
      await Promise.race([Promise.all([work, exports]), new Promise((r) => (waited = setTimeout(r, drainMs)))]);
      clearTimeout(waited);
    },
  };
}

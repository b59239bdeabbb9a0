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
}

export interface RunningAuthority {
  url: string;
  host: string;
  port: number;
  server: http.Server;
  close(): Promise<void>;
}

export async function startServer(app: AuthorityApp, o: ListenOptions): Promise<RunningAuthority> {
  let server: http.Server;
  if (o.tls) {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = fs.readFileSync(o.tls.certFile);
      key = fs.readFileSync(o.tls.keyFile);
    } catch (e) {
      throw new Error(`cannot read TLS certificate or key: ${(e as Error).message}`);
    }
    server = https.createServer({ cert, key, minVersion: "TLSv1.2" }, app.router.handle);
  } else {
    server = http.createServer(app.router.handle);
  }
  // Bounded time per request and for headers: slow clients cannot hold connections open.
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 100;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  await app.store.requeueInterrupted();
  const work = () => void app.runPendingWork().catch(() => undefined);
  work();
  const timer = setInterval(work, 60_000);
  timer.unref();
  return {
    url: `${o.tls ? "https" : "http"}://${hostForUrl}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    server,
    close: async () => {
      clearInterval(timer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

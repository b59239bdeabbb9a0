import * as fs from "fs";
import * as path from "path";
import { buildSync } from "esbuild";
import type { FastifyInstance } from "fastify";

/** The page's sources: index.html, style.css, app.ts (and what it imports, with the locale files). */
export const PAGE_DIR = path.join(__dirname, "page");

/**
 * Only the kiosk's own files: no inline script or style, no other origin (clinics are often offline, and the page
 * shows health results). Styles set from script through the CSSOM (progress bars) are not inline styles.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

let bundle: string | undefined;

/** app.ts and its imports in one script, built once per process (esbuild, as the firmware build). */
export function pageScript(): string {
  if (bundle === undefined) {
    const out = buildSync({
      entryPoints: [path.join(PAGE_DIR, "app.ts")],
      bundle: true,
      write: false,
      format: "iife",
      target: "es2020",
      minify: false,
      legalComments: "none",
      logLevel: "silent",
    });
    bundle = out.outputFiles[0].text;
  }
  return bundle;
}

/**
 * The kiosk page: `GET /` (index.html), `/assets/app.js`, `/assets/style.css`, `/assets/icon.svg`. The page itself needs no token (it
 * holds nothing); every API call it makes does (docs/kiosk.md, "The page").
 */
export function registerPage(app: FastifyInstance): void {
  const secure = {
    "content-security-policy": PAGE_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
  };
  const html = fs.readFileSync(path.join(PAGE_DIR, "index.html"), "utf8");
  const css = fs.readFileSync(path.join(PAGE_DIR, "style.css"), "utf8");
  const icon = fs.readFileSync(path.join(PAGE_DIR, "icon.svg"), "utf8");
  app.get("/", async (_req, reply) =>
    reply.headers({ ...secure, "content-type": "text/html; charset=utf-8" }).send(html),
  );
  app.get("/assets/style.css", async (_req, reply) =>
    reply.headers({ ...secure, "content-type": "text/css; charset=utf-8" }).send(css),
  );
  app.get("/assets/icon.svg", async (_req, reply) =>
    reply.headers({ ...secure, "content-type": "image/svg+xml" }).send(icon),
  );
  app.get("/assets/app.js", async (_req, reply) =>
    reply.headers({ ...secure, "content-type": "text/javascript; charset=utf-8" }).send(pageScript()),
  );
}

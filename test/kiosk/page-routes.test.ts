import { EventEmitter } from "events";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { buildApi } from "../../host-tools/src/kiosk/api";
import { PAGE_CSP, PAGE_DIR, pageScript } from "../../host-tools/src/kiosk/page-routes";
import type { KioskService } from "../../host-tools/src/kiosk/service";

const TOKEN = "page-routes-token-0123456789";

/** Just what the page's routes and the event stream touch. */
function fakeService(): KioskService {
  const engine = Object.assign(new EventEmitter(), {
    progress: new Map([["00112233445566aa", { bandId: "00112233445566aa", state: "found", percent: 0 }]]),
    boardOf: () => "puckjs",
  });
  return {
    engine,
    events: new EventEmitter(),
    state: () => ({ queue: [] }),
    log: () => undefined,
  } as unknown as KioskService;
}

describe("the kiosk page's routes", () => {
  test("the page and its assets are served with a strict CSP, without the token", async () => {
    const app = buildApi(fakeService(), TOKEN);
    const base = await app.listen({ host: "127.0.0.1", port: 0 });
    for (const [url, type] of [
      ["/", "text/html"],
      ["/assets/app.js", "text/javascript"],
      ["/assets/style.css", "text/css"],
      ["/assets/icon.svg", "image/svg+xml"],
    ]) {
      const r = await fetch(base + url);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toContain(type);
      expect(r.headers.get("content-security-policy")).toBe(PAGE_CSP);
    }
    expect(PAGE_CSP).toContain("script-src 'self'");
    expect(PAGE_CSP).not.toContain("unsafe");
    // No inline script or style, nothing from another origin.
    const html = fs.readFileSync(path.join(PAGE_DIR, "index.html"), "utf8");
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(html).not.toMatch(/<style|style=/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(pageScript()).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    await app.close();
  });

  test("the API needs the token; only the event stream accepts it in the query", async () => {
    const app = buildApi(fakeService(), TOKEN);
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    expect((await fetch(`${url}/api/state`)).status).toBe(401);
    expect((await fetch(`${url}/api/state?token=${TOKEN}`)).status).toBe(401);
    expect((await fetch(`${url}/api/state`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${url}/api/events?token=wrong-token-0123456789`)).status).toBe(401);
    // With the right token the stream opens and replays the queue.
    const first = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.get(`${url}/api/events?token=${TOKEN}`, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c.toString();
          if (text.includes("event: progress")) {
            resolve({ status: res.statusCode ?? 0, text });
            req.destroy();
          }
        });
      });
      req.on("error", (e) => (e.message.includes("socket hang up") ? undefined : reject(e)));
    });
    expect(first.status).toBe(200);
    expect(first.text).toContain('"bandId":"00112233445566aa"');
    await app.close();
  });

  test("every language has every message the page uses", () => {
    const en = JSON.parse(fs.readFileSync(path.join(PAGE_DIR, "locales", "en.json"), "utf8"));
    const vi = JSON.parse(fs.readFileSync(path.join(PAGE_DIR, "locales", "vi.json"), "utf8"));
    expect(Object.keys(vi).sort()).toEqual(Object.keys(en).sort());
    for (const [k, v] of Object.entries(vi)) {
      expect(typeof v).toBe("string");
      // The same placeholders in both.
      const names = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
      expect([k, names(v as string)]).toEqual([k, names(en[k])]);
    }
    const sources = fs
      .readdirSync(PAGE_DIR)
      .filter((f) => f.endsWith(".ts"))
      .map((f) => fs.readFileSync(path.join(PAGE_DIR, f), "utf8"))
      .join("\n");
    const used = [...sources.matchAll(/\bt\(\s*"([\w.]+)"/g)].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(50);
    for (const k of used) expect([k, k in en]).toEqual([k, true]);
  });
});

import * as fs from "fs";
import * as path from "path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { call } from "../authority/helpers";
import { ROOT } from "../helpers/paths";
import {
  cardStates,
  checkScreen,
  collectErrors,
  fontSize,
  launch,
  recordCardStates,
  ScreenCheck,
  serious,
  SIZES,
} from "./helpers/browser";
import { PageKiosk, startPageKiosk } from "./helpers/page-kiosk";

/**
 * The kiosk page in Chromium against a kiosk on simulated bands and a real authority (issue 13). Three residents:
 * A and B spend two hours half a metre apart, C lives 100 m away; each walks up to the kiosk when a test says so.
 * Every screen is captured at 1366x768 and 800x1280 (reports/screenshots/), checked for elements overflowing the
 * viewport and by axe-core (no serious or critical finding); the findings go to reports/axe.json.
 */
describe("the kiosk page in a real browser", () => {
  let k: PageKiosk;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  const checks: ScreenCheck[] = [];
  const [A, B, C] = [0, 1, 2];
  const id = (i: number) => k.residents[i].bandId;
  const row = (i: number) => page.locator(`li[data-band="${id(i)}"]`);

  /** Waits for `selector` on the page; on a timeout, says what the kiosk and the page were showing. */
  async function see(selector: string, timeout = 30_000, state: "visible" | "detached" = "visible"): Promise<void> {
    await page
      .locator(selector)
      .first()
      .waitFor({ timeout, state })
      .catch(async (e: Error) => {
        const main = await page
          .locator("main")
          .innerText()
          .catch(() => "?");
        throw new Error(
          `${e.message.split("\n")[0]}\nvirtual time ${k.world.now.toFixed(0)} s\nstate: ${JSON.stringify(k.service.state())}\n` +
            `page: ${main}\nkiosk log:\n${k.logs.slice(-30).join("\n")}`,
        );
      });
  }

  /**
   * What the page shows once it has caught up: reads until `assert` passes (the page renders after a click or an
   * event, not at once), and fails with the last reading after `timeout`.
   */
  async function eventually<T>(read: () => Promise<T>, assert: (v: T) => void, timeout = 10_000): Promise<void> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const v = await read();
      try {
        assert(v);
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function check(name: string): Promise<void> {
    const c = await checkScreen(page, name);
    checks.push(...c);
    expect(c.flatMap((x) => x.overflow.map((o) => `${x.screen}/${x.size}: ${o}`))).toEqual([]);
    expect(serious(c)).toEqual([]);
  }

  async function issueCode(): Promise<string> {
    const r = await call(k.authority, "POST", "/api/issue", {
      key: k.authority.adminKey,
      json: { testType: "confirmed" },
    });
    expect(r.status).toBe(200);
    return r.json.code as string;
  }

  beforeAll(async () => {
    k = await startPageKiosk({
      homes: [
        { x: 300, y: 0 },
        { x: 300.5, y: 0 },
        { x: 400, y: 0 },
      ],
      hours: 2,
      speed: 10,
    });
    browser = await launch();
    context = await browser.newContext({ viewport: SIZES.laptop, locale: "en-GB", timezoneId: "Asia/Ho_Chi_Minh" });
    page = await context.newPage();
    errors = collectErrors(page);
  }, 120_000);

  afterEach(() => k?.setOffline(false));

  afterAll(async () => {
    fs.mkdirSync(path.join(ROOT, "reports"), { recursive: true });
    const summary = checks.map((c) => ({
      screen: c.screen,
      size: c.size,
      screenshot: path.relative(ROOT, c.file),
      overflow: c.overflow.length,
      axe: {
        critical: c.axe.filter((f) => f.impact === "critical").length,
        serious: c.axe.filter((f) => f.impact === "serious").length,
        moderate: c.axe.filter((f) => f.impact === "moderate").length,
        minor: c.axe.filter((f) => f.impact === "minor").length,
        findings: c.axe,
      },
    }));
    fs.writeFileSync(path.join(ROOT, "reports", "axe.json"), JSON.stringify(summary, null, 2) + "\n");
    await browser?.close();
    await k?.close();
  }, 60_000);

  test("a band walks up: its card goes from found to done with the right result", async () => {
    await page.goto(k.url);
    await eventually(
      () => page.locator("main h2").textContent(),
      (v) => expect(v).toBe("Bands at the kiosk"),
    );
    await recordCardStates(page);
    k.residents[C].walkUp();
    await see(`li[data-band="${id(C)}"] [data-result="none"]`, 60_000);
    await eventually(
      () => row(C).locator(".result").textContent(),
      (v) => expect(v).toBe("No exposure found"),
    );
    const states = await cardStates(page, id(C));
    expect(states[0]).toBe("found");
    expect(states.at(-1)).toBe("done");
    expect(states).toEqual(expect.arrayContaining(["connecting", "authenticating", "syncing"]));
    // Large enough to read at arm's length.
    expect(await fontSize(page, `li[data-band="${id(C)}"] .result`)).toBeGreaterThanOrEqual(24);
    // A and B walk up too: nothing has been published yet, so no exposure for anyone.
    k.residents[A].walkUp();
    k.residents[B].walkUp();
    for (const i of [A, B]) await see(`li[data-band="${id(i)}"] [data-result="none"]`, 60_000);
    await eventually(
      () => row(A).getAttribute("data-state"),
      (v) => expect(v).toBe("done"),
    );
    expect(errors).toEqual([]);
  }, 120_000);

  test("tested positive end to end, by keyboard; the contact's result card and the follow-up list", async () => {
    const code = await issueCode();
    await page.locator('nav a[href="#/positive"]').focus();
    await page.keyboard.press("Enter");
    await see("#positive-band");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Tested positive");
    await check("positive-form");
    await page.locator("#positive-band").focus();
    await page.selectOption("#positive-band", id(A));
    await page.keyboard.press("Tab");
    await page.keyboard.type(code);
    await page.keyboard.press("Enter");
    await see("#positive-publish");
    const confirm = await page.locator(".confirm").textContent();
    expect(confirm).toContain("Please confirm what will be published");
    expect(confirm).toMatch(/encounter log kept at this kiosk \(\d+ records\)/);
    await check("positive-confirm");
    await page.locator("#positive-publish").focus();
    await page.keyboard.press("Enter");
    await see("[data-outcome]", 60_000);
    await eventually(
      () => page.locator("[data-outcome]").getAttribute("data-outcome"),
      (v) => expect(v).toBe("done"),
    );
    const sent = (await page.locator(".sent").textContent()) as string;
    const keys = Number(/Daily keys: (\d+)/.exec(sent)?.[1]);
    expect(keys).toBeGreaterThanOrEqual(1);
    expect(sent).toMatch(/Log: \d+ pages, \d+ KB/);
    expect((await k.authority.store.counts()).exposures).toBe(keys);
    await check("positive-sent");

    // The authority releases A's keys; the kiosk's next check finds B's contact.
    k.setAuthorityAhead(30 * 3600_000);
    await k.authority.app.runBackgroundWork();
    await k.service.checkExposures(true);
    const exposed = k.service.result(id(B)).exposures.filter((e) => e.risky);
    expect(exposed.length).toBeGreaterThanOrEqual(1);
    const [y, m, d] = exposed
      .map((e) => e.day)
      .sort()
      .at(-1)!
      .split("-")
      .map(Number);
    // "1 Jan", kept on one line (a no-break space).
    const day = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: "UTC" })
      .format(Date.UTC(y, m - 1, d))
      .replace(/ /g, "\u00a0");
    // On the queue, after the kiosk's "checked" event.
    await page.goto(k.url + "/#/queue");
    await see(`li[data-band="${id(B)}"] [data-result="exposure"]`);
    await eventually(
      () => row(B).locator(".result").textContent(),
      (v) => expect(v).toBe(`Possible exposure on ${day}: please see the nurse`),
    );
    await eventually(
      () => row(C).locator(".result").textContent(),
      (v) => expect(v).toBe("No exposure found"),
    );
    // A's card ends as done after the keys were read, not stuck in the session that read them.
    await see(`li[data-band="${id(A)}"][data-state="done"]`);
    await check("queue");
    // The band's own screen: the result card and the staff's timeline.
    await row(B).locator("a.details").focus();
    await page.keyboard.press("Enter");
    await see('main[data-screen="band"] [data-result="exposure"]');
    expect(await page.locator("figure.timeline rect.day-bar.risky").count()).toBeGreaterThanOrEqual(1);
    expect(await fontSize(page, "main .result")).toBeGreaterThanOrEqual(24);
    await check("band-result");
    // The follow-up list until staff mark it seen.
    await page.locator('nav a[href="#/follow-up"]').click();
    const followRow = page.locator(`tr[data-band="${id(B)}"]`);
    await followRow.waitFor();
    await eventually(
      () => followRow.textContent(),
      (v) => expect(v).toContain(day),
    );
    await check("follow-up");
    await followRow.locator("button").focus();
    await page.keyboard.press("Enter");
    await followRow.locator("button").waitFor({ state: "detached" });
    expect(k.service.followUp().find((f) => f.bandId === id(B))?.newExposureDays ?? []).toEqual([]);
    expect(errors).toEqual([]);
  }, 120_000);

  test("the authority unreachable: a clear banner, a positive saved and uploaded later", async () => {
    await page.goto(k.url + "/#/queue");
    await page.reload();
    k.setOffline(true);
    await k.service.refreshRegistry().catch(() => undefined);
    const banner = page.locator('[data-banner="offline"]');
    await see('[data-banner="offline"]', 15_000);
    await eventually(
      () => banner.textContent(),
      (v) => expect(v).toContain("Everything is saved, will upload when it answers."),
    );
    // A positive result entered now is saved and waits.
    const code = await issueCode();
    await page.goto(k.url + "/#/positive");
    await page.reload();
    await page.selectOption("#positive-band", id(C));
    await page.fill("#positive-code", code);
    await page.locator("form.positive button[type=submit]").click();
    await page.locator("#positive-publish").click();
    await see("[data-outcome]", 60_000);
    await eventually(
      () => page.locator("[data-outcome]").textContent(),
      (v) => expect(v).toBe("Saved, will upload when the health authority answers."),
    );
    await eventually(
      () => banner.textContent(),
      (v) => expect(v).toContain("Waiting to upload: 1."),
    );
    await check("offline");
    const before = (await k.authority.store.counts()).exposures;
    k.setOffline(false);
    await k.service.refreshRegistry();
    // The upload queue retries after its back-off; the banner goes when nothing waits.
    await see('[data-banner="offline"]', 30_000, "detached");
    expect((await k.authority.store.counts()).exposures).toBeGreaterThan(before);
    expect(errors).toEqual([]);
  }, 120_000);

  test("Vietnamese and back: every string, dates in the clinic's language, kept across a reload", async () => {
    await page.goto(k.url + "/#/queue");
    await see(`li[data-band="${id(C)}"]`);
    await page.locator('button[data-lang="vi"]').focus();
    await page.keyboard.press("Enter");
    await eventually(
      () => page.locator("html").getAttribute("lang"),
      (v) => expect(v).toBe("vi"),
    );
    await eventually(
      () => page.locator("main h2").textContent(),
      (v) => expect(v).toBe("Vòng đeo tay tại máy"),
    );
    await eventually(
      () => page.locator('nav a[href="#/follow-up"]').textContent(),
      (v) => expect(v).toBe("Theo dõi"),
    );
    await see(`li[data-band="${id(B)}"] [data-result="exposure"]`);
    await eventually(
      () => row(B).locator(".result").textContent(),
      (v) => expect(v).toMatch(/^Có thể đã phơi nhiễm ngày \d+\u00a0thg\u00a0\d+: xin gặp y tá$/),
    );
    await page.reload();
    await see(`li[data-band="${id(A)}"]`);
    await eventually(
      () => page.locator("main h2").textContent(),
      (v) => expect(v).toBe("Vòng đeo tay tại máy"),
    );
    await check("queue-vi");
    await page.goto(k.url + `/#/band/${id(B)}`);
    await page.locator("figure.timeline").waitFor();
    await check("band-result-vi");
    await page.locator('button[data-lang="en"]').click();
    await eventually(
      () => page.locator("main h2").textContent(),
      (v) => expect(v).toBe(`Band ${id(B).replace(/(.{4})(?=.)/g, "$1 ")}`),
    );
    await eventually(
      () => page.locator("html").getAttribute("lang"),
      (v) => expect(v).toBe("en"),
    );
    expect(errors).toEqual([]);
  }, 60_000);

  test("off loopback: the token once in the address, then in every request and the event stream", async () => {
    const token = "kiosk-page-token-0123456789";
    const url = await k.withToken(token);
    const other = await context.newPage();
    await other.goto(url + "/");
    await other.locator(".banner").waitFor({ timeout: 10_000 });
    await eventually(
      () => other.locator(".banner").textContent(),
      (v) => expect(v).toContain("needs its access token"),
    );
    await other.goto(url + `/?token=${token}#/queue`);
    await other.locator(`li[data-band="${id(A)}"]`).waitFor({ timeout: 10_000 });
    expect(other.url()).not.toContain(token);
    expect(await other.locator(".banner", { hasText: "access token" }).count()).toBe(0);
    await other.close();
  }, 60_000);

  test("a failed copy and a band that left, in plain words", async () => {
    await page.goto(k.url + "/#/queue");
    await page.reload();
    await see(`li[data-band="${id(A)}"]`);
    // The engine's own events, as the API forwards them, for a band the simulator cannot make fail on cue.
    const at = (k.world.startUnix + k.world.now) * 1000;
    const progress = (bandId: string, state: string, message?: string) =>
      k.service.engine.emit("progress", { bandId, board: "puckjs", state, percent: 0, units: 0, message, at });
    progress("00000000000000f1", "failed", "band not in range (no advert for 45 s)");
    progress("00000000000000f2", "failed", "authentication failed: bad MAC");
    progress("00000000000000f3", "left", "out of range before its turn");
    await see('li[data-band="00000000000000f3"]');
    const card = (b: string) => page.locator(`li[data-band="${b}"]`);
    await eventually(
      () => card("00000000000000f1").locator(".state").textContent(),
      (v) => expect(v).toBe("Failed"),
    );
    await eventually(
      () => card("00000000000000f1").locator(".reason").textContent(),
      (v) => expect(v).toBe("The band moved away. Please come closer to the kiosk."),
    );
    await eventually(
      () => card("00000000000000f2").locator(".reason").textContent(),
      (v) => expect(v).toBe("The kiosk could not recognise this band. Please see the staff."),
    );
    await eventually(
      () => card("00000000000000f3").locator(".state").textContent(),
      (v) => expect(v).toBe("Left before its turn"),
    );
    await check("queue-failed");
    expect(errors).toEqual([]);
  }, 60_000);
});

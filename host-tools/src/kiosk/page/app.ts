import {
  api,
  ApiError,
  BandResult,
  BandView,
  events,
  FollowUp,
  KioskState,
  PositiveAnswer,
  Progress,
  takeTokenFromUrl,
  UploadOutcome,
} from "./client";
import { timeline } from "./chart";
import {
  formatDay,
  formatNumber,
  formatTime,
  initialLanguage,
  Language,
  LANGUAGES,
  MessageKey,
  setLanguage,
  t,
} from "./i18n";

/**
 * The kiosk page: the queue of bands at the kiosk with each wearer's result, a band's details for staff (result,
 * exposure timeline, health), the follow-up list and the tested-positive form. Plain DOM, no framework; every
 * string comes from locales/*.json; live updates from the kiosk's event stream (docs/kiosk.md, "The page").
 */

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const $ = (id: string) => document.getElementById(id) as HTMLElement;

/** "5fbb0e1d7c76c2af" -> "5fbb 0e1d 7c76 c2af", as printed on the band. */
const bandName = (bandId: string) => bandId.replace(/(.{4})(?=.)/g, "$1 ");

// ---- state kept by the page ----
const queue = new Map<string, Progress>();
const results = new Map<string, BandResult>();
let authority: KioskState["authority"] | null = null;
let streamUp = true;
let needsToken = false;

type Route =
  { screen: "queue" } | { screen: "band"; bandId: string } | { screen: "follow-up" } | { screen: "positive" };

function route(): Route {
  const hash = location.hash.replace(/^#\/?/, "");
  const [screen, arg] = hash.split("/");
  if (screen === "band" && /^[0-9a-f]{16}$/.test(arg ?? "")) return { screen: "band", bandId: arg };
  if (screen === "follow-up") return { screen: "follow-up" };
  if (screen === "positive") return { screen: "positive" };
  return { screen: "queue" };
}

// ---- chrome: title, navigation, language, banners ----
function renderChrome(): void {
  document.title = t("title");
  $("title").textContent = t("title");
  const skip = document.querySelector(".skip");
  if (skip) skip.textContent = t("skip");
  const current = route().screen;
  const nav = $("nav");
  nav.setAttribute("aria-label", t("nav.label"));
  const link = (href: string, screen: string, key: MessageKey) =>
    h("a", { href, "aria-current": current === screen ? "page" : undefined }, t(key));
  nav.replaceChildren(
    link("#/queue", "queue", "nav.queue"),
    link("#/follow-up", "follow-up", "nav.followUp"),
    link("#/positive", "positive", "nav.positive"),
  );
  const lang = $("lang");
  lang.setAttribute("aria-label", t("lang.label"));
  lang.replaceChildren(
    ...(Object.keys(LANGUAGES) as Language[]).map((l) => {
      const b = h(
        "button",
        { type: "button", lang: l, "aria-pressed": String(document.documentElement.lang === l), "data-lang": l },
        LANGUAGES[l].languageName,
      );
      b.addEventListener("click", () => {
        setLanguage(l);
        renderAll();
        (document.querySelector(`[data-lang="${l}"]`) as HTMLElement | null)?.focus();
      });
      return b;
    }),
  );
  renderBanners();
}

function renderBanners(): void {
  const banners: HTMLElement[] = [];
  if (needsToken) banners.push(h("p", { class: "banner warn" }, t("banner.token")));
  else if (!streamUp) banners.push(h("p", { class: "banner warn" }, t("banner.disconnected")));
  if (authority?.configured && authority.reachable === false) {
    banners.push(
      h(
        "p",
        { class: "banner offline", "data-banner": "offline" },
        t("banner.offline"),
        authority.pendingUploads ? " " + t("banner.pending", { n: authority.pendingUploads }) : "",
      ),
    );
  }
  const box = $("banners");
  box.setAttribute("role", "status");
  const text = banners.map((b) => b.textContent).join("|");
  if (box.dataset.text !== text) {
    box.dataset.text = text;
    box.replaceChildren(...banners);
  }
}

// ---- the result in plain words ----
function resultLine(r: BandResult | undefined): { key: string; text: string } {
  if (!r) return { key: "unknown", text: t("result.unknown") };
  const risky = r.exposures.filter((e) => e.risky).map((e) => e.day);
  if (risky.length) {
    const day = risky.sort().at(-1) as string;
    return { key: "exposure", text: t("result.exposure", { day: formatDay(day) }) };
  }
  if (!r.checked && authority && !authority.configured) return { key: "pending", text: t("result.noAuthority") };
  if (!r.checked) return { key: "pending", text: t("result.pending") };
  return { key: "none", text: t("result.none") };
}

function resultCard(r: BandResult | undefined, tag: "p" | "h2" = "p"): HTMLElement {
  const line = resultLine(r);
  return h(tag, { class: `result result-${line.key}`, "data-result": line.key }, line.text);
}

/** The engine's reason for a failed copy, in words a resident understands. */
function plainReason(message: string | undefined): string {
  const m = (message ?? "").toLowerCase();
  if (/range|advert|connect|timed out|timeout|disconnect|link/.test(m)) return t("reason.range");
  if (/reflash|protocol 1/.test(m)) return t("reason.reflash");
  if (/auth|key|mac/.test(m)) return t("reason.auth");
  return t("reason.other");
}

function stateText(p: Progress): string {
  return p.state === "syncing" ? t("state.syncing", { percent: p.percent }) : t(`state.${p.state}` as MessageKey);
}

// ---- the queue ----
/**
 * A finished band's card stays while the band is in range (its wearer reads the result), and this long (kiosk
 * time) after it finished; then it leaves the screen, and so does its result.
 */
const KEEP_FINISHED_MS = 2 * 60_000;

function visibleQueue(): Progress[] {
  const all = [...queue.values()];
  const newest = Math.max(0, ...all.map((p) => p.at));
  const finished = (p: Progress) => p.state === "done" || p.state === "failed" || p.state === "left";
  return all
    .filter((p) => !finished(p) || (p.inRange && p.state !== "left") || newest - p.at < KEEP_FINISHED_MS)
    .sort((a, b) => b.at - a.at);
}

function queueRow(p: Progress): HTMLElement {
  const name = bandName(p.bandId);
  const percent = p.state === "done" ? 100 : p.state === "syncing" ? p.percent : 0;
  const fill = h("div", { class: "fill" });
  fill.style.width = `${percent}%`;
  return h(
    "li",
    { class: `band state-${p.state}`, "data-band": p.bandId, "data-state": p.state },
    h(
      "div",
      { class: "band-head" },
      h("span", { class: "band-id" }, t("band.label", { id: name })),
      h("span", { class: "state" }, stateText(p)),
    ),
    h(
      "div",
      {
        class: "bar",
        role: "progressbar",
        "aria-valuemin": 0,
        "aria-valuemax": 100,
        "aria-valuenow": percent,
        "aria-label": t("progress.label", { id: name }),
      },
      fill,
    ),
    p.state === "failed" && h("p", { class: "reason" }, plainReason(p.message)),
    p.state === "done" && resultCard(results.get(p.bandId)),
    h(
      "a",
      {
        class: "details",
        href: `#/band/${p.bandId}`,
        "aria-label": t("band.detailsFor", { id: name }),
        "data-key": `details-${p.bandId}`,
      },
      t("band.details"),
    ),
  );
}

function renderQueue(): HTMLElement[] {
  const rows = visibleQueue();
  return [
    h("h2", { tabindex: -1, class: "screen-heading" }, t("queue.heading")),
    h("p", { class: "hint" }, t("queue.hint")),
    rows.length ? h("ol", { class: "queue" }, ...rows.map(queueRow)) : h("p", { class: "empty" }, t("queue.empty")),
  ];
}

// ---- one band, for staff ----
async function renderBand(bandId: string): Promise<HTMLElement[]> {
  const name = bandName(bandId);
  const back = h("a", { href: "#/queue", class: "back" }, t("detail.back"));
  let data: { band: BandView; result: BandResult };
  try {
    data = await api("GET", `/api/bands/${bandId}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404)
      return [
        h("h2", { tabindex: -1, class: "screen-heading" }, t("detail.heading", { id: name })),
        h("p", {}, t("detail.notFound")),
        back,
      ];
    throw e;
  }
  results.set(bandId, data.result);
  const { band, result } = data;
  const endDay = (band.lastSyncAt ?? new Date().toISOString()).slice(0, 10);
  const withMinutes = result.exposures.filter((e) => (e.detail.weightedMinutes ?? 0) > 0);
  const attention = band.attention.map(plainAttention);
  return [
    h("h2", { tabindex: -1, class: "screen-heading" }, t("detail.heading", { id: name })),
    resultCard(result),
    h(
      "section",
      { class: "staff", "aria-labelledby": "staff-heading" },
      h("h3", { id: "staff-heading" }, t("detail.staff")),
      h("h4", {}, t("detail.timeline")),
      timeline(result.exposures, endDay),
      withMinutes.length
        ? h(
            "table",
            { class: "days" },
            h("caption", {}, t("detail.timelineTable")),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, t("detail.day")),
                h("th", { scope: "col" }, t("detail.minutes")),
                h("th", { scope: "col" }, t("detail.risk")),
              ),
            ),
            h(
              "tbody",
              {},
              ...withMinutes.map((e) =>
                h(
                  "tr",
                  {},
                  h("td", {}, formatDay(e.day)),
                  h("td", {}, formatNumber(Math.round(e.detail.weightedMinutes ?? 0))),
                  h("td", {}, e.risky ? t("detail.yes") : t("detail.no")),
                ),
              ),
            ),
          )
        : h("p", {}, t("detail.timelineEmpty")),
      h(
        "dl",
        { class: "health" },
        h("dt", {}, t("detail.battery")),
        h("dd", {}, band.batteryPercent === null ? "–" : `${band.batteryPercent}%`),
        h("dt", {}, t("detail.lastSync")),
        h("dd", {}, band.lastSyncAt ? formatTime(band.lastSyncAt) : "–"),
        h("dt", {}, t("detail.records")),
        h("dd", {}, band.logSpan ? formatNumber(band.logSpan.records) : "–"),
        h("dt", {}, t("detail.attention")),
        h("dd", {}, attention.length ? attention.join("; ") : t("detail.none")),
      ),
      h(
        "p",
        {},
        h(
          "a",
          { href: `#/positive`, "data-band": bandId, class: "button-link", id: "to-positive" },
          t("detail.positive"),
        ),
      ),
    ),
    back,
  ];
}

/** The attention reasons of the API (English, stable prefixes) in the page's language. */
function plainAttention(reason: string): string {
  const after = (prefix: string) => reason.slice(prefix.length).trim();
  if (reason === "possible exposure") return t("reason.list.exposure");
  if (reason === "low battery") return t("reason.list.battery");
  if (reason === "clock was wrong") return t("reason.list.clockWrong");
  if (reason === "clock drifts") return t("reason.list.clockDrift");
  if (reason.startsWith("log was full")) return t("reason.list.full");
  if (reason.startsWith("band faults:")) return t("reason.list.faults", { n: after("band faults:") });
  if (reason.startsWith("sync failing:"))
    return t("reason.list.failing", { reason: plainReason(after("sync failing:")) });
  return reason;
}

// ---- follow-up list ----
async function renderFollowUp(): Promise<HTMLElement[]> {
  const { bands } = await api<{ bands: FollowUp[] }>("GET", "/api/follow-up");
  const heading = h("h2", { tabindex: -1, class: "screen-heading" }, t("followUp.heading"));
  const help = h("p", {}, t("followUp.help"));
  if (!bands.length) return [heading, help, h("p", { class: "empty" }, t("followUp.empty"))];
  const rows = bands.map((b) => {
    const name = bandName(b.bandId);
    const seen = h(
      "button",
      { type: "button", "aria-label": t("followUp.markSeenFor", { id: name }), "data-key": `seen-${b.bandId}` },
      t("followUp.markSeen"),
    );
    seen.addEventListener("click", async () => {
      await api("POST", `/api/bands/${b.bandId}/seen`);
      await showScreen(false);
    });
    return h(
      "tr",
      { "data-band": b.bandId },
      h("th", { scope: "row" }, h("a", { href: `#/band/${b.bandId}` }, name)),
      h("td", {}, b.reasons.map(plainAttention).join("; ")),
      h("td", {}, b.newExposureDays.map(formatDay).join(", ") || "–"),
      h("td", {}, b.newExposureDays.length ? seen : ""),
    );
  });
  return [
    heading,
    help,
    h(
      "table",
      { class: "follow-up" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, t("followUp.band")),
          h("th", { scope: "col" }, t("followUp.reasons")),
          h("th", { scope: "col" }, t("followUp.days")),
          h("th", { scope: "col" }, t("followUp.action")),
        ),
      ),
      h("tbody", {}, ...rows),
    ),
  ];
}

// ---- tested positive ----
interface PositiveForm {
  step: "form" | "confirm" | "working" | "sent";
  bandId: string;
  code: string;
  records: number | null;
  error: string | null;
  answer: PositiveAnswer | null;
  upload: UploadOutcome | null;
}
const form: PositiveForm = {
  step: "form",
  bandId: "",
  code: "",
  records: null,
  error: null,
  answer: null,
  upload: null,
};

const validCode = (code: string) => /^[0-9]{6,16}$/.test(code);

async function renderPositive(): Promise<HTMLElement[]> {
  const heading = h("h2", { tabindex: -1, class: "screen-heading" }, t("positive.heading"));
  const help = h("p", {}, t("positive.help"));
  const error = form.error ? h("p", { class: "error", role: "alert", id: "positive-error" }, form.error) : null;
  if (form.step === "form") {
    const stored = await api<{ bands: BandView[] }>("GET", "/api/bands").catch(() => ({ bands: [] as BandView[] }));
    const ids = [...new Set([...queue.keys(), ...stored.bands.map((b) => b.bandId)])].sort();
    const select = h(
      "select",
      { id: "positive-band", name: "band", required: true },
      h("option", { value: "" }, t("positive.choose")),
      ...ids.map((id) => h("option", { value: id, selected: id === form.bandId }, bandName(id))),
    );
    select.addEventListener("change", () => (form.bandId = select.value));
    const code = h("input", {
      id: "positive-code",
      name: "code",
      inputmode: "numeric",
      autocomplete: "off",
      pattern: "[0-9]{6,16}",
      required: true,
      "aria-describedby": error ? "positive-code-help positive-error" : "positive-code-help",
      "aria-invalid": form.error ? "true" : undefined,
      value: form.code,
    });
    code.addEventListener("input", () => (form.code = code.value.trim()));
    const f = h(
      "form",
      { class: "positive", novalidate: true },
      h("label", { for: "positive-band" }, t("positive.band")),
      select,
      h("label", { for: "positive-code" }, t("positive.code")),
      code,
      h("p", { id: "positive-code-help", class: "help" }, t("positive.codeHelp")),
      error,
      h("button", { type: "submit", class: "primary" }, t("positive.next")),
    );
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      form.error = !form.bandId ? t("positive.bandMissing") : !validCode(form.code) ? t("positive.codeInvalid") : null;
      if (!form.error) {
        const view = await api<{ band: BandView }>("GET", `/api/bands/${form.bandId}`).catch(() => null);
        form.records = view?.band.logSpan?.records ?? null;
        form.step = "confirm";
      }
      await showScreen(true);
    });
    return [heading, help, f];
  }
  if (form.step === "confirm") {
    const publish = h("button", { type: "button", class: "primary", id: "positive-publish" }, t("positive.publish"));
    const cancel = h("button", { type: "button", id: "positive-cancel" }, t("positive.cancel"));
    publish.addEventListener("click", () => void publishPositive());
    cancel.addEventListener("click", () => {
      form.step = "form";
      void showScreen(true);
    });
    return [
      heading,
      h(
        "section",
        { class: "confirm", "aria-labelledby": "confirm-heading" },
        h("h3", { id: "confirm-heading" }, t("positive.confirmHeading")),
        h("p", { class: "confirm-band" }, t("positive.confirmBand", { id: bandName(form.bandId) })),
        h(
          "ul",
          {},
          h("li", {}, t("positive.confirmKeys")),
          h("li", {}, t("positive.confirmLog", { records: form.records === null ? "–" : formatNumber(form.records) })),
        ),
        h("p", {}, t("positive.confirmTo")),
        h("div", { class: "actions" }, publish, cancel),
      ),
    ];
  }
  if (form.step === "working") {
    return [heading, h("p", { class: "working", role: "status" }, t("positive.working"))];
  }
  // sent: what went to the authority, or what waits
  const a = form.answer as PositiveAnswer;
  const state = form.upload?.state ?? a.upload?.state ?? "verify";
  const status =
    state === "done"
      ? h("p", { class: "outcome ok", "data-outcome": "done" }, t("positive.done"))
      : state === "needs_code"
        ? h("p", { class: "outcome warn", "data-outcome": "needs_code" }, t("positive.needsCode"))
        : state === "failed"
          ? h(
              "p",
              { class: "outcome error", "data-outcome": "failed" },
              t("positive.failed", { error: form.upload?.error ?? a.upload?.error ?? "" }),
            )
          : h("p", { class: "outcome warn", "data-outcome": "saved" }, t("positive.saved"));
  const again = h("button", { type: "button", id: "positive-again" }, t("positive.again"));
  again.addEventListener("click", () => {
    Object.assign(form, { step: "form", bandId: "", code: "", records: null, error: null, answer: null, upload: null });
    void showScreen(true);
  });
  const parts: Child[] = [
    heading,
    h(
      "section",
      { class: "sent", "aria-labelledby": "sent-heading" },
      h("h3", { id: "sent-heading" }, t(state === "done" ? "positive.sentHeading" : "positive.savedHeading")),
      status,
      h(
        "ul",
        {},
        h("li", {}, t("positive.keys", { n: a.keys, days: a.days.map(formatDay).join(", ") })),
        h(
          "li",
          {},
          a.logPages
            ? t("positive.log", {
                pages: a.logPages,
                bytes: t("bytes", { n: formatNumber(Math.ceil(a.logBytes / 1024)) }),
              })
            : t("positive.noLog"),
        ),
      ),
    ),
  ];
  if (state === "needs_code" && a.upload) {
    const code = h("input", { id: "positive-new-code", inputmode: "numeric", autocomplete: "off", required: true });
    const f = h(
      "form",
      { class: "positive", novalidate: true },
      h("label", { for: "positive-new-code" }, t("positive.code")),
      code,
      error,
      h("button", { type: "submit", class: "primary" }, t("positive.newCode")),
    );
    const id = a.upload.id;
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!validCode(code.value.trim())) form.error = t("positive.codeInvalid");
      else {
        try {
          const r = await api<{ upload: UploadOutcome | null }>("POST", `/api/uploads/${id}/code`, {
            code: code.value.trim(),
          });
          form.upload = r.upload;
          form.error = null;
        } catch (e) {
          form.error = t("positive.failed", { error: (e as Error).message });
        }
      }
      await showScreen(true);
    });
    parts.push(f);
  }
  parts.push(h("p", {}, again));
  return parts.filter((p): p is HTMLElement => p instanceof HTMLElement);
}

async function publishPositive(): Promise<void> {
  form.step = "working";
  form.error = null;
  await showScreen(true);
  try {
    form.answer = await api<PositiveAnswer>("POST", `/api/bands/${form.bandId}/positive`, { code: form.code });
    form.upload = form.answer.upload;
    form.step = "sent";
    form.code = "";
  } catch (e) {
    form.step = "form";
    form.error = t("positive.failed", { error: (e as Error).message });
  }
  await refreshState();
  await showScreen(true);
}

// ---- rendering and updates ----
let rendering = 0;

/** Renders the current screen; `focus` moves the keyboard focus to its heading (after navigation). */
async function showScreen(focus: boolean): Promise<void> {
  const r = route();
  const ticket = ++rendering;
  let content: HTMLElement[];
  try {
    content =
      r.screen === "band"
        ? await renderBand(r.bandId)
        : r.screen === "follow-up"
          ? await renderFollowUp()
          : r.screen === "positive"
            ? await renderPositive()
            : renderQueue();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      needsToken = true;
      renderBanners();
    }
    return;
  }
  if (ticket !== rendering) return;
  const main = $("main");
  main.dataset.screen = r.screen;
  const activeKey = (document.activeElement as HTMLElement | null)?.dataset?.key;
  main.replaceChildren(...content);
  if (focus) (main.querySelector(".screen-heading") as HTMLElement | null)?.focus();
  else if (activeKey) (main.querySelector(`[data-key="${activeKey}"]`) as HTMLElement | null)?.focus();
}

function renderAll(): void {
  renderChrome();
  void showScreen(false);
}

/** What the queue shows; it is drawn again only when this changes (the 5 s poll mostly changes nothing). */
let drawnQueue = "";

function queueChanged(): void {
  if (route().screen !== "queue") return;
  const now = JSON.stringify([
    document.documentElement.lang,
    authority?.configured,
    visibleQueue().map((p) => [p.bandId, p.state, p.percent, p.message, resultLine(results.get(p.bandId)).text]),
  ]);
  if (now === drawnQueue && $("main").dataset.screen === "queue") return;
  drawnQueue = now;
  void showScreen(false);
}

async function refreshResult(bandId: string): Promise<void> {
  try {
    const r = await api<{ result: BandResult }>("GET", `/api/bands/${bandId}`);
    results.set(bandId, r.result);
    queueChanged();
  } catch {
    // not stored yet (a band that never synced): no result
  }
}

async function refreshState(): Promise<void> {
  try {
    const s = await api<KioskState>("GET", "/api/state");
    needsToken = false;
    authority = s.authority;
    for (const p of s.queue) {
      const known = queue.get(p.bandId);
      if (!known || known.at <= p.at) queue.set(p.bandId, p);
      else known.inRange = p.inRange;
      if (p.state === "done" && !results.get(p.bandId)?.checked) void refreshResult(p.bandId);
    }
    renderBanners();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) needsToken = true;
    renderBanners();
  }
}

function listen(): void {
  const source = events();
  source.addEventListener("open", () => {
    streamUp = true;
    renderBanners();
  });
  source.addEventListener("error", () => {
    streamUp = false;
    renderBanners();
  });
  source.addEventListener("progress", (ev) => {
    const p = JSON.parse((ev as MessageEvent<string>).data) as Progress;
    queue.set(p.bandId, { ...p, inRange: p.state !== "left" });
    if (p.state === "done") void refreshResult(p.bandId);
    queueChanged();
  });
  source.addEventListener("synced", () => void refreshState());
  source.addEventListener("checked", () => {
    for (const p of queue.values()) if (p.state === "done") void refreshResult(p.bandId);
    if (route().screen === "band" || route().screen === "follow-up") void showScreen(false);
  });
}

function main(): void {
  takeTokenFromUrl();
  setLanguage(initialLanguage());
  window.addEventListener("hashchange", () => {
    renderChrome();
    void showScreen(true);
  });
  document.addEventListener("click", (ev) => {
    // "Tested positive: publish this band" carries its band to the form.
    const a = (ev.target as HTMLElement).closest("#to-positive") as HTMLElement | null;
    if (a?.dataset.band) Object.assign(form, { step: "form", bandId: a.dataset.band, error: null });
  });
  renderAll();
  void refreshState().then(queueChanged);
  listen();
  // The authority's reachability and the upload queue change without an event: look every 5 s.
  setInterval(() => void refreshState().then(queueChanged), 5000);
}

main();

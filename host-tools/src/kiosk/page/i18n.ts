import en from "./locales/en.json";
import vi from "./locales/vi.json";

/** Every string the page shows, per language (`locales/*.json`, the same keys in each). */
export type Messages = typeof en;
export type MessageKey = Exclude<keyof Messages, "locale" | "languageName">;
export const LANGUAGES = { en, vi } as const;
export type Language = keyof typeof LANGUAGES;

const STORAGE_KEY = "tracelet.kiosk.lang";
let current: Language = "en";

export function language(): Language {
  return current;
}

/** The language saved on this kiosk, else the browser's first one we have, else English. */
export function initialLanguage(): Language {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && saved in LANGUAGES) return saved as Language;
  for (const l of navigator.languages ?? []) {
    const base = l.slice(0, 2).toLowerCase();
    if (base in LANGUAGES) return base as Language;
  }
  return "en";
}

export function setLanguage(lang: Language): void {
  current = lang;
  localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
}

/** The message `key` in the current language with `{name}` placeholders filled in. */
export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  const text: string = LANGUAGES[current][key] ?? en[key];
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in values ? String(values[name]) : m));
}

/** A UTC day ("2026-11-27") as the clinic's language writes it: "27 Nov" / "27 thg 11", never split over lines. */
export function formatDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number);
  return new Intl.DateTimeFormat(LANGUAGES[current].locale, { day: "numeric", month: "short", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, d)))
    .replace(/ /g, "\u00a0");
}

/** A moment (ISO or ms) in the kiosk's time zone and the clinic's language. */
export function formatTime(at: string | number): string {
  return new Intl.DateTimeFormat(LANGUAGES[current].locale, { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(at),
  );
}

export function formatNumber(n: number): string {
  return new Intl.NumberFormat(LANGUAGES[current].locale).format(n);
}

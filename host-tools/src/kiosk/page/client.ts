/**
 * The kiosk API as the page uses it. When the kiosk requires a token (bound off loopback), the page is opened once
 * with `?token=...`: the token moves to sessionStorage (and out of the address bar) and goes with every request as
 * `Authorization: Bearer`; the event stream, which cannot set headers, passes it as a query parameter.
 */
const TOKEN_KEY = "tracelet.kiosk.token";

export function takeTokenFromUrl(): void {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token === null) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
}

function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

export async function api<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const tk = token();
  if (tk) headers.authorization = `Bearer ${tk}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await res.json().catch(() => ({}))) as { error?: string; code?: string };
  if (!res.ok) throw new ApiError(json.error ?? res.statusText, res.status, json.code ?? "error");
  return json as T;
}

export function events(): EventSource {
  const tk = token();
  return new EventSource(tk ? `/api/events?token=${encodeURIComponent(tk)}` : "/api/events");
}

// Wire types of the kiosk API (host-tools/src/kiosk/api.ts and service.ts).
export type BandState = "found" | "waiting" | "connecting" | "authenticating" | "syncing" | "done" | "failed" | "left";

export interface Progress {
  bandId: string;
  board: string;
  state: BandState;
  percent: number;
  units: number;
  message?: string;
  at: number;
  /** Heard within the last 45 s (in /api/state; a live progress event means it is). */
  inRange?: boolean;
}

export interface KioskState {
  registered: number;
  queue: Progress[];
  authority: { configured: boolean; reachable: boolean | null; lastError: string | null; pendingUploads: number };
}

export interface Exposure {
  day: string;
  risky: boolean;
  detail: { weightedMinutes?: number };
}

export interface BandResult {
  checked: boolean;
  exposures: Exposure[];
}

export interface BandView {
  bandId: string;
  batteryPercent: number | null;
  lastSyncAt: string | null;
  logSpan: { oldest: string | null; records: number } | null;
  attention: string[];
}

export interface FollowUp {
  bandId: string;
  reasons: string[];
  newExposureDays: string[];
}

export interface UploadOutcome {
  id: number;
  state: string;
  error?: string;
}

export interface PositiveAnswer {
  keys: number;
  days: string[];
  logPages: number;
  logBytes: number;
  upload: UploadOutcome | null;
}

import { timingSafeEqual, createHash } from "crypto";
import Fastify, { FastifyInstance } from "fastify";
import { BandStatus, BOARD_CODES, FAULT_DUTIES, STATUS_FLAG_LOW_BATTERY } from "../../../firmware/src/protocol/sync";
import { Progress, SyncResult } from "./engine";
import type { KioskService } from "./service";
import { registerPage } from "./page-routes";
import { BandRow } from "./store";
import { loadAllBoards, loadBoard } from "../boards/load";

/**
 * Clock error beyond which staff are asked to look at a band, seconds: one Exposure Notification interval (10
 * minutes). Less is what a sound band's drift gives between weekly syncs (up to ~780 ppm on a 500 ppm board, ~470 s
 * in 7 days) and harms nothing: matching allows +-2 h, and the kiosk sets the clock at every sync.
 */
export const CLOCK_TROUBLE_S = 600;
/**
 * Slowness a sound band's clock shows beside its board's own tolerance, ppm: each BLE stack restart (one an identity
 * rotation, ~96 a day) costs the clock up to the restart's duration, ~280 ppm at the 0.25 s docs/protocol.md section
 * 6 takes as its pessimistic end.
 */
export const RESTART_SLOWNESS_PPM = 300;
/**
 * A board's documented worst-case drift (`rtcPpm`), ppm; for a board this kiosk cannot load, the widest tolerance of
 * the boards it knows.
 */
const rtcTolerance: Record<string, number> = {};
function rtcPpmOf(board: string): number {
  if (rtcTolerance[board] === undefined) {
    try {
      rtcTolerance[board] = loadBoard(board).rtcPpm;
    } catch {
      rtcTolerance[board] = Math.max(...loadAllBoards().map((b) => b.rtcPpm));
    }
  }
  return rtcTolerance[board];
}

/**
 * Why a band's clock needs staff's attention: an error at the sync over CLOCK_TROUBLE_S, or a drift estimate
 * outside what its board's tolerance and the stack restarts explain (-(rtcPpm + RESTART_SLOWNESS_PPM) .. +rtcPpm;
 * positive: fast). A band whose drift is inside that range corrects it itself (section 6).
 */
export function clockTrouble(clockErrorS: number | null, driftPpm: number | null, board: string): string[] {
  const out: string[] = [];
  if (clockErrorS !== null && Math.abs(clockErrorS) > CLOCK_TROUBLE_S) out.push("clock was wrong");
  const rtc = rtcPpmOf(board);
  if (driftPpm !== null && (driftPpm > rtc || driftPpm < -(rtc + RESTART_SLOWNESS_PPM))) out.push("clock drifts");
  return out;
}

export interface BandView {
  bandId: string;
  board: string;
  firmwareVersion: number | null;
  batteryPercent: number | null;
  lastSyncAt: string | null;
  lastSeenAt: string | null;
  syncs: number;
  storedCursor: number;
  acked: number;
  clockErrorS: number | null;
  driftPpm: number | null;
  /** Oldest and newest record the kiosk holds of this band (ISO), from the band's status at its last sync. */
  logSpan: { oldest: string | null; records: number } | null;
  faults: number;
  lastFaultDuty: string | null;
  resets: number;
  failures: number;
  lastError: string | null;
  attention: string[];
}

/** A band as staff see it: its health and why it needs attention (empty when it does not). */
/** A STATUS frame's board (the registry's `board` for a code this kiosk does not know) and last fault's duty, by name. */
export function statusNames(s: BandStatus, board: string): { board: string; lastFaultDuty: string | null } {
  return {
    board: BOARD_CODES[s.boardCode] ?? board,
    lastFaultDuty: s.faults ? (FAULT_DUTIES[s.lastFaultDuty] ?? null) : null,
  };
}

export function bandView(row: BandRow, board: string): BandView {
  const s = row.status;
  const names = s ? statusNames(s, board) : { board, lastFaultDuty: null };
  const attention: string[] = [];
  if (s && (s.batteryPercent < 20 || s.flags & STATUS_FLAG_LOW_BATTERY)) attention.push("low battery");
  attention.push(...clockTrouble(row.clockErrorS, row.driftPpm, names.board));
  if (row.droppedUnsynced) attention.push("log was full: some records were lost before a sync");
  if (s && s.faults > 0) attention.push(`band faults: ${s.faults}`);
  if (row.failures >= 3) attention.push(`sync failing: ${row.lastError ?? "unknown"}`);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    bandId: row.bandId,
    board: names.board,
    firmwareVersion: s ? s.firmwareVersion : null,
    batteryPercent: s ? s.batteryPercent : null,
    lastSyncAt: iso(row.lastSyncAt),
    lastSeenAt: iso(row.lastSeenAt),
    syncs: row.syncs,
    storedCursor: row.cursor,
    acked: row.acked,
    clockErrorS: row.clockErrorS,
    driftPpm: row.driftPpm,
    logSpan: s
      ? { oldest: s.oldestTime ? new Date(s.oldestTime * 1000).toISOString() : null, records: s.records }
      : null,
    faults: s ? s.faults : 0,
    lastFaultDuty: names.lastFaultDuty,
    resets: s ? s.resets : 0,
    failures: row.failures,
    lastError: row.lastError,
    attention,
  };
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/**
 * The kiosk's JSON API (and the stream the kiosk page listens to): `GET /api/state`, `/api/bands`,
 * `/api/bands/:bandId`, `/api/events` (Server-Sent Events: progress, sync results, checks done), `/healthz`; and
 * the kiosk page (`/`, `/assets/*`). With a token every /api request needs `Authorization: Bearer <token>`; the
 * event stream, which a browser opens without headers, may give it as `?token=` instead.
 */
export function buildApi(service: KioskService, token?: string): FastifyInstance {
  const app = Fastify({ logger: false });
  app.addHook("onRequest", async (req, reply) => {
    if (!token || !req.url.startsWith("/api/")) return;
    const h = req.headers.authorization ?? "";
    let given = h.startsWith("Bearer ") ? h.slice(7) : "";
    if (!given && req.method === "GET" && req.url.split("?")[0] === "/api/events") {
      given = new URLSearchParams(req.url.split("?")[1] ?? "").get("token") ?? "";
    }
    if (!given || !sameSecret(given, token)) {
      await reply.code(401).send({ error: "this kiosk needs its access token", code: "unauthorized" });
    }
  });
  app.setErrorHandler((e, _req, reply) => {
    const err = e as { message: string; statusCode?: number };
    const client = err.statusCode !== undefined && err.statusCode < 500;
    if (!client) service.log(`kiosk: API error: ${err.message}`);
    void reply
      .code(client ? (err.statusCode as number) : 500)
      .send({ error: client ? err.message : "internal error", code: client ? "bad_request" : "internal_error" });
  });
  const boardOf = (bandId: string) => service.engine.boardOf(bandId);
  app.get("/healthz", async () => ({ ok: true }));
  registerPage(app);
  app.get("/api/state", async () => service.state());
  app.get("/api/bands", async () => ({ bands: service.store.bands().map((b) => bandView(b, boardOf(b.bandId))) }));
  app.get("/api/bands/:bandId", async (req, reply) => {
    const { bandId } = req.params as { bandId: string };
    const row = /^[0-9a-f]{16}$/.test(bandId) ? service.store.band(bandId) : undefined;
    if (!row) return reply.code(404).send({ error: `no band ${bandId} at this kiosk`, code: "not_found" });
    return { band: bandView(row, boardOf(bandId)), result: service.result(bandId) };
  });
  app.post("/api/bands/:bandId/seen", async (req, reply) => {
    const { bandId } = req.params as { bandId: string };
    if (!service.store.band(bandId))
      return reply.code(404).send({ error: `no band ${bandId} at this kiosk`, code: "not_found" });
    service.store.markExposuresSeen(bandId);
    return { ok: true };
  });
  app.get("/api/follow-up", async () => ({ bands: service.followUp() }));
  app.post("/api/exposure-check", async (_req, reply) => {
    if (!service.checker) return reply.code(409).send({ error: "no authority configured", code: "no_authority" });
    await service.checkExposures(true);
    return service.lastCheck;
  });
  app.post("/api/bands/:bandId/positive", async (req, reply) => {
    const { bandId } = req.params as { bandId: string };
    const body = (req.body ?? {}) as { code?: unknown };
    if (!/^[0-9a-f]{16}$/.test(bandId) || !service.store.registry().some((r) => r.bandId === bandId)) {
      return reply.code(404).send({ error: `band ${bandId} is not in this kiosk's registry`, code: "not_found" });
    }
    if (typeof body.code !== "string") {
      return reply.code(400).send({ error: 'give the verification code as {"code": "12345678"}', code: "bad_request" });
    }
    try {
      return await service.positive(bandId, body.code);
    } catch (e) {
      return reply.code(409).send({ error: (e as Error).message, code: "positive_failed" });
    }
  });
  app.post("/api/uploads/:id/code", async (req, reply) => {
    const id = Number((req.params as { id: string }).id);
    const body = (req.body ?? {}) as { code?: unknown };
    if (!service.uploads) return reply.code(409).send({ error: "no authority configured", code: "no_authority" });
    if (typeof body.code !== "string" || !/^[0-9]{6,16}$/.test(body.code)) {
      return reply.code(400).send({ error: "the verification code is 6 to 16 digits", code: "bad_request" });
    }
    try {
      service.uploads.newCode(id, body.code);
    } catch (e) {
      return reply.code(409).send({ error: (e as Error).message, code: "not_waiting" });
    }
    const [outcome] = await service.uploads.run(id);
    return { upload: outcome ?? null };
  });
  app.get("/api/uploads", async () => ({
    uploads: service.store.uploads().map((u) => ({
      id: u.id,
      bandId: u.bandId,
      state: u.state,
      attempts: u.attempts,
      lastError: u.lastError,
      nextTryAt: u.nextTryAt ? new Date(u.nextTryAt).toISOString() : null,
      createdAt: new Date(u.createdAt).toISOString(),
      doneAt: u.doneAt ? new Date(u.doneAt).toISOString() : null,
      result: u.result,
    })),
  }));
  app.get("/api/events", (req, reply) => {
    reply.raw.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    const send = (event: string, data: unknown) =>
      reply.raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    for (const p of service.engine.progress.values()) send("progress", p);
    const onProgress = (p: Progress) => send("progress", p);
    const onSynced = (r: SyncResult) => send("synced", { ...r, status: undefined });
    const onChecked = (c: { at: number; error?: string }) => send("checked", { at: c.at, ok: !c.error });
    service.engine.on("progress", onProgress);
    service.engine.on("synced", onSynced);
    service.events.on("checked", onChecked);
    req.raw.on("close", () => {
      service.engine.off("progress", onProgress);
      service.engine.off("synced", onSynced);
      service.events.off("checked", onChecked);
    });
  });
  return app;
}

import * as fs from "fs";
import { z } from "zod";
import { Position } from "./radio";
import { Rng } from "./rng";

/**
 * Scenarios: who is where, over a day. People carry a band, an Exposure Notification phone, a Bluezone phone or
 * nothing, and follow a Track (waypoints in world seconds, positions in metres, linear in between). Built-in:
 * - care-home: residents (bands) sleep in their rooms, eat three meals at fixed tables of four in the dining
 *   hall, spend mornings and afternoons in their room or in lounge groups; staff (phones) on three shifts visit
 *   rooms and serve meals.
 * - clinic-queue: patients arrive through the day, wait on rows of chairs 0.6 m apart, see a nurse for ten
 *   minutes and leave; a receptionist at the desk. A third of patients wear bands, the rest carry phones.
 * - market: stall keepers at their stalls 07-19, shoppers (most with phones) walking stall to stall.
 * People who are not on site are at home, far from everyone else.
 */
export type Carries = "band" | "en-phone" | "bluezone-phone" | "none";

export interface Waypoint extends Position {
  t: number;
}

export class Track {
  readonly points: Waypoint[];

  constructor(points: Waypoint[]) {
    this.points = [...points].sort((a, b) => a.t - b.t);
    if (!this.points.length) throw new Error("a track needs at least one waypoint");
  }

  at(t: number): Position {
    const p = this.points;
    if (t <= p[0].t) return p[0];
    if (t >= p[p.length - 1].t) return p[p.length - 1];
    let lo = 0;
    let hi = p.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (p[mid].t <= t) lo = mid;
      else hi = mid;
    }
    const a = p[lo];
    const b = p[hi];
    if (a.x === b.x && a.y === b.y) return a;
    const f = (t - a.t) / (b.t - a.t);
    return {
      x: a.x + (b.x - a.x) * f,
      y: a.y + (b.y - a.y) * f,
      room: f < 0.5 ? a.room : b.room,
      heading: Math.atan2(b.y - a.y, b.x - a.x),
    };
  }
}

export interface Person {
  id: string;
  carries: Carries;
  /** Board of a band (default: the run's --board). */
  board?: string;
  role: string;
  track: Track;
}

export interface Room {
  id: string;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface Scenario {
  name: string;
  description: string;
  hours: number;
  environment: string;
  rooms: Room[];
  people: Person[];
  /** Where hostile beacons and a kiosk would go: the busiest place. */
  hotspot: Position;
}

const H = 3600;

/** Builds a track from stays; walking between consecutive stays takes `walkS` seconds. */
class TrackBuilder {
  private pts: Waypoint[] = [];
  constructor(private walkS = 45) {}

  stay(t0: number, t1: number, p: Position): this {
    if (t1 <= t0) return this;
    const last = this.pts[this.pts.length - 1];
    const start = last && t0 - last.t < this.walkS ? Math.min(t1, last.t + this.walkS) : t0;
    this.pts.push({ t: start, ...p }, { t: t1, ...p });
    return this;
  }

  build(): Track {
    return new Track(this.pts);
  }
}

function home(i: number): Position {
  return { x: 10000 + 200 * i, y: 10000, room: `home${i}` };
}

function phoneKind(r: Rng): Carries {
  const u = r.next();
  return u < 0.7 ? "en-phone" : u < 0.9 ? "bluezone-phone" : "none";
}

// ------------------------------------------------------------------------------------------ care home

export function careHome(bands: number, hours: number, seed: number | string): Scenario {
  const r = new Rng(`care-home/${seed}`);
  const rooms: Room[] = [];
  const people: Person[] = [];
  const roomOf = (i: number): Position => ({
    x: i * 4.5 + 2,
    y: 2,
    room: `room${i}`,
    heading: r.uniform(-Math.PI, Math.PI),
  });
  for (let i = 0; i < bands; i++) rooms.push({ id: `room${i}`, x0: i * 4.5, y0: 0, x1: i * 4.5 + 4, y1: 4 });
  const hallX = 0;
  const hallY = 12;
  rooms.push({ id: "dining", x0: hallX, y0: hallY, x1: hallX + 24, y1: hallY + 14 });
  rooms.push({ id: "lounge", x0: 30, y0: hallY, x1: 48, y1: hallY + 14 });
  const tables = Math.ceil(bands / 4);
  const seat = (tbl: number, s: number): Position => {
    const cx = hallX + 3 + (tbl % 6) * 3.6;
    const cy = hallY + 3 + Math.floor(tbl / 6) * 3.6;
    const ang = (s * Math.PI) / 2;
    const x = cx + Math.cos(ang) * 0.6;
    const y = cy + Math.sin(ang) * 0.6;
    return { x, y, room: "dining", heading: Math.atan2(cy - y, cx - x) };
  };
  const lounge = (group: number, s: number): Position => {
    const cx = 33 + (group % 4) * 3.8;
    const cy = hallY + 3 + Math.floor(group / 4) * 3.8;
    const ang = (s * 2 * Math.PI) / 3 + group;
    const x = cx + Math.cos(ang) * 0.8;
    const y = cy + Math.sin(ang) * 0.8;
    return { x, y, room: "lounge", heading: Math.atan2(cy - y, cx - x) };
  };
  const meals = [
    [8 * H, 9 * H],
    [12 * H, 13 * H],
    [18 * H, 19 * H],
  ];
  const days = Math.ceil(hours / 24);
  for (let i = 0; i < bands; i++) {
    const rr = r.fork(`resident${i}`);
    const tb = new TrackBuilder();
    const room = roomOf(i);
    const table = Math.floor(i / 4);
    for (let d = 0; d < days; d++) {
      const o = d * 24 * H;
      let t = o;
      const activity = (t0: number, t1: number) => {
        let u = t0;
        while (u < t1) {
          const len = rr.uniform(0.5, 1.5) * H;
          const end = Math.min(t1, u + len);
          if (rr.chance(0.55)) tb.stay(u, end, lounge(rr.int(0, Math.max(0, Math.ceil(bands / 3) - 1)), rr.int(0, 2)));
          else tb.stay(u, end, room);
          u = end;
        }
      };
      tb.stay(t, o + meals[0][0] - 15 * 60, room);
      t = o + meals[0][0];
      tb.stay(t, o + meals[0][1], seat(table, i % 4));
      activity(o + meals[0][1] + 60, o + meals[1][0] - 60);
      tb.stay(o + meals[1][0], o + meals[1][1], seat(table, i % 4));
      tb.stay(o + meals[1][1] + 60, o + 14 * H, room);
      activity(o + 14 * H, o + 17.5 * H);
      tb.stay(o + 17.5 * H, o + meals[2][0] - 60, room);
      tb.stay(o + meals[2][0], o + meals[2][1], seat(table, i % 4));
      tb.stay(o + meals[2][1] + 60, o + 24 * H, room);
    }
    people.push({ id: `resident${i}`, carries: "band", role: "resident", track: tb.build() });
  }
  const perShift = Math.max(2, Math.ceil(bands / 5));
  const shifts: [number, number, string][] = [
    [7, 15, "day"],
    [15, 23, "evening"],
    [23, 31, "night"],
  ];
  let s = 0;
  for (const [start, end, name] of shifts) {
    for (let k = 0; k < perShift; k++, s++) {
      const rr = r.fork(`staff${s}`);
      const tb = new TrackBuilder(30);
      const away = home(1000 + s);
      for (let d = -1; d < days; d++) {
        const o = d * 24 * H;
        let t = o + start * H;
        const stop = o + end * H;
        while (t < stop) {
          const hod = (t - o) / H;
          const inMeal = meals.some(([a, b]) => hod >= a / H && hod < b / H);
          if (inMeal) {
            const tbl = rr.int(0, tables - 1);
            const p = seat(tbl, rr.int(0, 3));
            tb.stay(t, t + 120, { x: p.x + 0.5, y: p.y + 0.5, room: "dining", heading: p.heading });
            t += 150;
          } else if (rr.chance(0.15)) {
            tb.stay(t, t + 15 * 60, { x: 60, y: 2, room: "staff" });
            t += 16 * 60;
          } else {
            const res = rr.int(0, bands - 1);
            const p = roomOf(res);
            const len = rr.uniform(4, 10) * 60;
            tb.stay(t, t + len, { x: p.x + 0.8, y: p.y, room: p.room, heading: Math.PI });
            t += len + 60;
          }
        }
        tb.stay(stop + 60, o + (start + 24) * H - 60, away);
      }
      people.push({
        id: `staff-${name}${k}`,
        carries: k % 4 === 3 ? "bluezone-phone" : "en-phone",
        role: "staff",
        track: tb.build(),
      });
    }
  }
  return {
    name: "care-home",
    description: `${bands} residents with bands in single rooms, tables of four for three meals, lounge groups; ${perShift} staff per shift with phones`,
    hours,
    environment: "epfl-indoor",
    rooms,
    people,
    hotspot: { x: hallX + 12, y: hallY + 7, room: "dining" },
  };
}

// ------------------------------------------------------------------------------------------ clinic queue

export function clinicQueue(bands: number, hours: number, seed: number | string): Scenario {
  const r = new Rng(`clinic-queue/${seed}`);
  const people: Person[] = [];
  const patients = bands * 3;
  const chairs: Position[] = [];
  for (let row = 0; row < 6; row++)
    for (let c = 0; c < 10; c++)
      chairs.push({ x: 1 + c * 0.6, y: 1 + row * 1.2, room: "waiting", heading: Math.PI / 2 });
  const busyUntil = new Array(chairs.length).fill(0);
  const open = 8 * H;
  const close = Math.min(18 * H, hours * H);
  const nurseRoom: Position = { x: 12, y: 4, room: "consult", heading: Math.PI };
  let bandLeft = bands;
  for (let i = 0; i < patients; i++) {
    const rr = r.fork(`patient${i}`);
    const arrive = rr.uniform(open, Math.max(open + 60, close - 1.2 * H));
    const wait = rr.uniform(10, 60) * 60;
    let ci = chairs.findIndex((_, k) => busyUntil[k] <= arrive && rr.chance(0.6));
    if (ci < 0) ci = busyUntil.indexOf(Math.min(...busyUntil));
    busyUntil[ci] = arrive + wait;
    const tb = new TrackBuilder(20);
    const h = home(i);
    tb.stay(0, arrive - 120, h);
    tb.stay(arrive, arrive + wait, chairs[ci]);
    tb.stay(arrive + wait + 30, arrive + wait + 30 + 600, {
      x: nurseRoom.x - 1,
      y: nurseRoom.y,
      room: "consult",
      heading: 0,
    });
    tb.stay(arrive + wait + 30 + 600 + 120, hours * H + H, h);
    const isBand = bandLeft > 0 && (rr.chance(1 / 3) || patients - i <= bandLeft);
    if (isBand) bandLeft--;
    people.push({ id: `patient${i}`, carries: isBand ? "band" : phoneKind(rr), role: "patient", track: tb.build() });
  }
  const staff = (id: string, p: Position) => {
    const tb = new TrackBuilder();
    tb.stay(0, open - 600, home(2000 + people.length));
    tb.stay(open - 300, close + 600, p);
    tb.stay(close + 1200, hours * H + H, home(2000 + people.length));
    people.push({ id, carries: "en-phone", role: "staff", track: tb.build() });
  };
  staff("nurse", nurseRoom);
  staff("receptionist", { x: 8, y: 0.5, room: "waiting", heading: Math.PI / 2 });
  return {
    name: "clinic-queue",
    description: `${patients} patients through a waiting room (chairs 0.6 m apart) and a consultation; ${bands} with bands`,
    hours,
    environment: "indoor",
    rooms: [
      { id: "waiting", x0: 0, y0: 0, x1: 9, y1: 8 },
      { id: "consult", x0: 10, y0: 0, x1: 14, y1: 8 },
    ],
    people,
    hotspot: { x: 4, y: 4, room: "waiting" },
  };
}

// ------------------------------------------------------------------------------------------ market

export function market(bands: number, hours: number, seed: number | string): Scenario {
  const r = new Rng(`market/${seed}`);
  const people: Person[] = [];
  const stalls: Position[] = [];
  for (let a = 0; a < 5; a++)
    for (let k = 0; k < 10; k++) stalls.push({ x: 2 + k * 1.9, y: 2 + a * 6, room: "market", heading: Math.PI / 2 });
  const open = 7 * H;
  const close = Math.min(19 * H, hours * H);
  const keepers = Math.max(1, Math.round(bands / 3));
  for (let i = 0; i < keepers; i++) {
    const st = stalls[i % stalls.length];
    const tb = new TrackBuilder();
    tb.stay(0, open - 600, home(3000 + i));
    tb.stay(open, close, st);
    tb.stay(close + 600, hours * H + H, home(3000 + i));
    people.push({ id: `keeper${i}`, carries: "band", role: "stall keeper", track: tb.build() });
  }
  const shoppers = (bands - keepers) * 4;
  let bandLeft = bands - keepers;
  for (let i = 0; i < shoppers; i++) {
    const rr = r.fork(`shopper${i}`);
    const tb = new TrackBuilder(60);
    const h = home(4000 + i);
    let t = rr.uniform(open, Math.max(open + 60, close - 2 * H));
    tb.stay(0, t - 300, h);
    const visits = rr.int(4, 10);
    for (let v = 0; v < visits && t < close; v++) {
      const st = stalls[rr.int(0, stalls.length - 1)];
      const len = rr.uniform(2, 8) * 60;
      tb.stay(t, t + len, {
        x: st.x + rr.uniform(-0.8, 0.8),
        y: st.y + 1 + rr.uniform(0, 0.6),
        room: "market",
        heading: -Math.PI / 2,
      });
      t += len + 90;
    }
    tb.stay(t + 300, hours * H + H, h);
    const isBand = bandLeft > 0 && (rr.chance(0.25) || shoppers - i <= bandLeft);
    if (isBand) bandLeft--;
    people.push({ id: `shopper${i}`, carries: isBand ? "band" : phoneKind(rr), role: "shopper", track: tb.build() });
  }
  return {
    name: "market",
    description: `${keepers} stall keepers and ${shoppers} shoppers in an open market (most shoppers with phones), ${bands} bands`,
    hours,
    environment: "open-air",
    rooms: [{ id: "market", x0: 0, y0: 0, x1: 42, y1: 32 }],
    people,
    hotspot: { x: 20, y: 14, room: "market" },
  };
}

// ------------------------------------------------------------------------------------------ files

const PositionSchema = z.object({
  x: z.number(),
  y: z.number(),
  room: z.string().optional(),
  heading: z.number().optional(),
});
export const ScenarioFileSchema = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    hours: z.number().positive().optional(),
    environment: z.string().optional(),
    rooms: z
      .array(z.object({ id: z.string(), x0: z.number(), y0: z.number(), x1: z.number(), y1: z.number() }))
      .optional(),
    hotspot: PositionSchema.optional(),
    people: z
      .array(
        z.object({
          id: z.string(),
          carries: z.enum(["band", "en-phone", "bluezone-phone", "none"]),
          board: z.string().optional(),
          role: z.string().optional(),
          track: z.array(PositionSchema.extend({ t: z.number() })).min(1),
        }),
      )
      .min(1),
  })
  .strict();

/** A scenario file: {name, hours?, environment?, rooms?, hotspot?, people: [{id, carries, board?, track: [{t,x,y,room?,heading?}]}]}. */
export function loadScenarioFile(file: string): Scenario {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    if (e instanceof SyntaxError) throw new Error(`invalid scenario ${file}: not JSON: ${e.message}`);
    throw e;
  }
  const parsed = ScenarioFileSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`invalid scenario ${file}: ${first.path.join(".") || "(root)"}: ${first.message}`);
  }
  const s = parsed.data;
  const people: Person[] = s.people.map((p) => ({
    id: p.id,
    carries: p.carries,
    board: p.board,
    role: p.role ?? "person",
    track: new Track(p.track),
  }));
  const lastT = Math.max(...s.people.map((p) => Math.max(...p.track.map((w) => w.t))));
  return {
    name: s.name,
    description: s.description ?? `scenario from ${file}`,
    hours: s.hours ?? Math.max(1, lastT / H),
    environment: s.environment ?? "indoor",
    rooms: s.rooms ?? [],
    people,
    hotspot: s.hotspot ?? people[0].track.at(0),
  };
}

export const BUILTIN_SCENARIOS: Record<string, (bands: number, hours: number, seed: number | string) => Scenario> = {
  "care-home": careHome,
  "clinic-queue": clinicQueue,
  market,
};

/** A built-in scenario (24 hours unless `hours`) or a scenario file (its own length unless `hours`). */
export function resolveScenario(
  nameOrFile: string,
  bands: number,
  hours: number | undefined,
  seed: number | string,
): Scenario {
  const b = BUILTIN_SCENARIOS[nameOrFile];
  if (b) return b(bands, hours ?? 24, seed);
  if (fs.existsSync(nameOrFile)) {
    const s = loadScenarioFile(nameOrFile);
    return { ...s, hours: hours ?? s.hours };
  }
  throw new Error(
    `unknown scenario "${nameOrFile}" (built-in: ${Object.keys(BUILTIN_SCENARIOS).join(", ")}, or a .json file)`,
  );
}

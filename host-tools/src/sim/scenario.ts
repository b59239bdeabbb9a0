import * as fs from "fs";
import { z } from "zod";
import { Position } from "./radio";
import { Rng } from "./rng";

/**
 * Scenarios: who is where, over a day. People carry a band, an Exposure Notification phone, a Bluezone phone or
 * nothing, and follow a Track (waypoints in world seconds, positions in metres, linear in between). Built-in:
 * - care-home: residents (bands) sleep in their rooms, eat three meals at fixed tables of four in the dining
 *   hall, spend mornings and afternoons in their room or in lounge groups; staff (phones) on three shifts visit
 *   rooms and serve meals. Optionally in several wings far apart (`CareHomeOptions`), each with its own dining hall
 *   and lounge, so that some residents never meet.
 * - clinic-queue: patients arrive through the day, wait on rows of chairs 0.6 m apart, see a nurse for ten
 *   minutes and leave; a receptionist at the desk. A third of patients wear bands, the rest carry phones.
 * - market: stall keepers at their stalls 07-19, shoppers (most with phones) walking stall to stall.
 * - typical-resident: people living alone at home with 3-5 close contacts a day (visitors, a club table).
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

/** Shuffles `xs` in place (Fisher-Yates) and returns it. */
function shuffle<T>(r: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

function phoneKind(r: Rng): Carries {
  const u = r.next();
  return u < 0.7 ? "en-phone" : u < 0.9 ? "bluezone-phone" : "none";
}

// ------------------------------------------------------------------------------------------ care home

/**
 * Care-home layout options. `wings` (default 1): residents are split into that many wings, in contiguous blocks as
 * even as possible (the first wings take the remainder). Each wing has its own row of rooms, dining hall (tables of
 * four) and lounge (groups of three), WING_SPACING_M apart: its residents never come near another wing's (in the
 * ground truth nor on the radio), so a scenario has residents who are certainly not close contacts of one another.
 * Staff serve every wing. One wing is the layout (and the random draws) of the scenario without the option.
 */
export interface CareHomeOptions {
  wings?: number;
}

/**
 * Distance between wings (m). Under the care home's epfl-indoor channel a band hears the other wing through its walls
 * at about -103 dBm or weaker on average (path loss 97 dB and the body): below the receiver's sensitivity but for the
 * odd lucky packet, and 30 dB under the bands' logging floor for bands (-73 dBm).
 */
export const WING_SPACING_M = 200;

export function careHome(bands: number, hours: number, seed: number | string, options: CareHomeOptions = {}): Scenario {
  const r = new Rng(`care-home/${seed}`);
  const rooms: Room[] = [];
  const people: Person[] = [];
  const wings = Math.max(1, Math.min(Math.floor(options.wings ?? 1), bands));
  const wingOf = (i: number) => Math.floor((i * wings) / bands);
  const wingStart: number[] = [];
  for (let i = 0; i < bands; i++) if (wingStart.length === wingOf(i)) wingStart.push(i);
  wingStart.push(bands);
  const wingSize = (w: number) => wingStart[w + 1] - wingStart[w];
  // One wing keeps the scenario's room names; more wings prefix the shared rooms with theirs.
  const place = (w: number, name: string) => (wings === 1 ? name : `wing${w + 1}-${name}`);
  const dy = (w: number) => w * WING_SPACING_M;
  const roomOf = (i: number): Position => {
    const j = i - wingStart[wingOf(i)];
    return {
      x: j * 4.5 + 2,
      y: 2 + dy(wingOf(i)),
      room: `room${i}`,
      heading: r.uniform(-Math.PI, Math.PI),
    };
  };
  const hallX = 0;
  const hallY = 12;
  for (let w = 0; w < wings; w++) {
    for (let i = wingStart[w]; i < wingStart[w + 1]; i++) {
      const j = i - wingStart[w];
      rooms.push({ id: `room${i}`, x0: j * 4.5, y0: dy(w), x1: j * 4.5 + 4, y1: dy(w) + 4 });
    }
  }
  for (let w = 0; w < wings; w++) {
    rooms.push({ id: place(w, "dining"), x0: hallX, y0: dy(w) + hallY, x1: hallX + 24, y1: dy(w) + hallY + 14 });
    rooms.push({ id: place(w, "lounge"), x0: 30, y0: dy(w) + hallY, x1: 48, y1: dy(w) + hallY + 14 });
  }
  // Tables are numbered through the wings (wing 0's first): staff serve any of them.
  const wingTables = (w: number) => Math.ceil(wingSize(w) / 4);
  const firstTable: number[] = [0];
  for (let w = 0; w < wings; w++) firstTable.push(firstTable[w] + wingTables(w));
  const tables = firstTable[wings];
  const seat = (table: number, s: number): Position => {
    let w = 0;
    while (table >= firstTable[w + 1]) w++;
    const tbl = table - firstTable[w];
    const cx = hallX + 3 + (tbl % 6) * 3.6;
    const cy = dy(w) + hallY + 3 + Math.floor(tbl / 6) * 3.6;
    const ang = (s * Math.PI) / 2;
    const x = cx + Math.cos(ang) * 0.6;
    const y = cy + Math.sin(ang) * 0.6;
    return { x, y, room: place(w, "dining"), heading: Math.atan2(cy - y, cx - x) };
  };
  const lounge = (w: number, group: number, s: number): Position => {
    const cx = 33 + (group % 4) * 3.8;
    const cy = dy(w) + hallY + 3 + Math.floor(group / 4) * 3.8;
    const ang = (s * 2 * Math.PI) / 3 + group;
    const x = cx + Math.cos(ang) * 0.8;
    const y = cy + Math.sin(ang) * 0.8;
    return { x, y, room: place(w, "lounge"), heading: Math.atan2(cy - y, cx - x) };
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
    const w = wingOf(i);
    const j = i - wingStart[w];
    const table = firstTable[w] + Math.floor(j / 4);
    const groups = Math.ceil(wingSize(w) / 3);
    for (let d = 0; d < days; d++) {
      const o = d * 24 * H;
      let t = o;
      const activity = (t0: number, t1: number) => {
        let u = t0;
        while (u < t1) {
          const len = rr.uniform(0.5, 1.5) * H;
          const end = Math.min(t1, u + len);
          if (rr.chance(0.55)) tb.stay(u, end, lounge(w, rr.int(0, Math.max(0, groups - 1)), rr.int(0, 2)));
          else tb.stay(u, end, room);
          u = end;
        }
      };
      tb.stay(t, o + meals[0][0] - 15 * 60, room);
      t = o + meals[0][0];
      tb.stay(t, o + meals[0][1], seat(table, j % 4));
      activity(o + meals[0][1] + 60, o + meals[1][0] - 60);
      tb.stay(o + meals[1][0], o + meals[1][1], seat(table, j % 4));
      tb.stay(o + meals[1][1] + 60, o + 14 * H, room);
      activity(o + 14 * H, o + 17.5 * H);
      tb.stay(o + 17.5 * H, o + meals[2][0] - 60, room);
      tb.stay(o + meals[2][0], o + meals[2][1], seat(table, j % 4));
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
            tb.stay(t, t + 120, { x: p.x + 0.5, y: p.y + 0.5, room: p.room, heading: p.heading });
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
    description:
      `${bands} residents with bands in single rooms, tables of four for three meals, lounge groups` +
      (wings > 1
        ? ` in ${wings} wings ${WING_SPACING_M} m apart (${Array.from({ length: wings }, (_, w) => wingSize(w)).join(" + ")} residents, each wing its own dining hall and lounge)`
        : "") +
      `; ${perShift} staff per shift with phones`,
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

// ------------------------------------------------------------------------------------------ typical resident

/**
 * typical-resident: older people living alone at home, 200 m apart, each with 3-5 close contacts a day (drawn per
 * resident and day, seeded): visits at home by family, friends and carers with phones (75 % Exposure Notification,
 * 25 % Bluezone; a visitor sees several residents a day), sometimes a club table with another resident (both bands).
 * A day has five visiting slots; a resident's contacts take distinct slots and distinct peers, 20-70 minutes at 1 m
 * each, so the ground truth holds as many close contacts as were drawn. In a free slot, about every other day, a shop
 * errand: a few minutes near the shop's staff phones (logged sightings, never 15 minutes).
 */
export function typicalResident(bands: number, hours: number, seed: number | string): Scenario {
  const r = new Rng(`typical-resident/${seed}`);
  const days = Math.ceil(hours / 24);
  const slots = [
    [9.5, 11],
    [11, 12.5],
    [13.5, 15],
    [15, 16.5],
    [17, 18.5],
  ].map(([a, b]) => [a * H, b * H]);
  const chair = (i: number): Position => ({ ...home(i), heading: 0 });
  const guestSeat = (i: number): Position => {
    const h = home(i);
    return { x: h.x + 1, y: h.y, room: h.room, heading: Math.PI };
  };
  // Visitors and shop staff live on lines of their own, so that nobody walks past a resident's home; the shop and
  // the club lie off every resident's way to the other.
  const away = (k: number, y: number): Position => ({ x: 10000 + 200 * k, y, room: `away${y}/${k}` });
  const shop = { x: 3000, y: 6000 };
  const club = { x: 6000, y: 2000 };
  const shopStaff: Position[] = [
    { x: shop.x, y: shop.y, room: "shop", heading: Math.PI / 2 },
    { x: shop.x + 4, y: shop.y + 3, room: "shop", heading: 0 },
    { x: shop.x + 8, y: shop.y + 3, room: "shop", heading: Math.PI },
  ];
  // Enough visitors that one is always free and new to the resident (each slot takes at most one per resident, and a
  // resident has met at most four earlier today).
  const visitors = Math.ceil(bands * 1.2) + 5;
  type Stay = { t0: number; t1: number; p: Position };
  const residentStays: Stay[][] = Array.from({ length: bands }, () => []);
  const visitorStays: Stay[][] = Array.from({ length: visitors }, () => []);
  for (let d = 0; d < days; d++) {
    const o = d * 24 * H;
    const dr = r.fork(`day${d}`);
    // Each resident's contact slots today (distinct), and who they met (distinct peers).
    const chosen: number[][] = [];
    const met: Set<string>[] = [];
    for (let i = 0; i < bands; i++) {
      const k = dr.int(3, 5);
      const order = shuffle(dr, [0, 1, 2, 3, 4]);
      chosen.push(order.slice(0, k).sort((a, b) => a - b));
      met.push(new Set());
    }
    const visitorBusy = slots.map(() => new Set<number>());
    let table = 0;
    for (let s = 0; s < slots.length; s++) {
      const [s0, s1] = slots[s];
      const here = [];
      for (let i = 0; i < bands; i++) if (chosen[i].includes(s)) here.push(i);
      shuffle(dr, here);
      const paired = new Set<number>();
      // Club tables: pairs of residents who both have this slot and have not met today.
      for (let a = 0; a < here.length; a++) {
        for (let b = a + 1; b < here.length; b++) {
          const i = here[a];
          const j = here[b];
          if (paired.has(i) || paired.has(j) || met[i].has(`r${j}`) || !dr.chance(0.3)) continue;
          paired.add(i).add(j);
          met[i].add(`r${j}`);
          met[j].add(`r${i}`);
          const t0 = o + s0 + dr.uniform(0, 10) * 60;
          const t1 = t0 + dr.uniform(30, 70) * 60;
          const x = club.x + 6 * table++;
          residentStays[i].push({ t0, t1, p: { x, y: club.y, room: "club", heading: Math.PI / 2 } });
          residentStays[j].push({ t0, t1, p: { x, y: club.y + 1, room: "club", heading: -Math.PI / 2 } });
        }
      }
      // Everyone else with this slot gets a visitor at home: one they have not seen today, free in this slot.
      for (const i of here) {
        if (paired.has(i)) continue;
        const free = [];
        for (let v = 0; v < visitors; v++) if (!visitorBusy[s].has(v) && !met[i].has(`v${v}`)) free.push(v);
        const v = dr.pick(free);
        visitorBusy[s].add(v);
        met[i].add(`v${v}`);
        const t0 = o + s0 + dr.uniform(0, 10) * 60;
        const t1 = Math.min(o + s1 - 5 * 60, t0 + dr.uniform(20, 70) * 60);
        residentStays[i].push({ t0, t1, p: chair(i) });
        visitorStays[v].push({ t0, t1, p: guestSeat(i) });
      }
    }
    // A shop errand in a free slot, about every other day: a few minutes near the staff (not a close contact).
    for (let i = 0; i < bands; i++) {
      const free = [0, 1, 2, 3, 4].filter((s) => !chosen[i].includes(s));
      if (!free.length || !dr.chance(0.5)) continue;
      const [s0] = slots[dr.pick(free)];
      const t0 = o + s0 + dr.uniform(5, 40) * 60;
      const aisle = dr.uniform(3, 9);
      const browse = dr.uniform(4, 8) * 60;
      residentStays[i].push({ t0, t1: t0 + browse, p: { x: shop.x + aisle, y: shop.y + 1.5, room: "shop" } });
      residentStays[i].push({
        t0: t0 + browse + 30,
        t1: t0 + browse + 30 + dr.uniform(1, 3) * 60,
        p: { x: shop.x, y: shop.y + 0.8, room: "shop", heading: -Math.PI / 2 },
      });
    }
  }
  // Tracks: at home (residents in their chair) between the day's stays.
  const track = (stays: Stay[], base: Position): Track => {
    const tb = new TrackBuilder();
    let t = -H;
    for (const st of [...stays].sort((a, b) => a.t0 - b.t0)) {
      tb.stay(t, st.t0 - 60, base);
      tb.stay(st.t0, st.t1, st.p);
      t = st.t1 + 60;
    }
    tb.stay(t, days * 24 * H + H, base);
    return tb.build();
  };
  const people: Person[] = [];
  for (let i = 0; i < bands; i++)
    people.push({ id: `resident${i}`, carries: "band", role: "resident", track: track(residentStays[i], chair(i)) });
  for (let v = 0; v < visitors; v++) {
    const carries: Carries = r.fork(`visitor${v}`).chance(0.75) ? "en-phone" : "bluezone-phone";
    people.push({ id: `visitor${v}`, carries, role: "visitor", track: track(visitorStays[v], away(v, 20000)) });
  }
  shopStaff.forEach((p, k) => {
    const tb = new TrackBuilder();
    for (let d = -1; d < days; d++) {
      const o = d * 24 * H;
      tb.stay(o + 7.5 * H, o + 19.5 * H, p);
      tb.stay(o + 20 * H, o + 31 * H, away(k, -20000));
    }
    people.push({ id: `shop-staff${k}`, carries: "en-phone", role: "shop staff", track: tb.build() });
  });
  return {
    name: "typical-resident",
    description: `${bands} residents living alone with bands, 3-5 close contacts a day each (${visitors} visitors with phones, club tables with other residents), shop errands`,
    hours,
    environment: "epfl-indoor",
    rooms: [{ id: "shop", x0: shop.x - 2, y0: shop.y - 2, x1: shop.x + 12, y1: shop.y + 6 }],
    people,
    hotspot: { x: shop.x + 4, y: shop.y + 1.5, room: "shop" },
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
  "typical-resident": typicalResident,
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

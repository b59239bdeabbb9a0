import { randomBytes } from "crypto";
import pg from "pg";

/**
 * PostgreSQL for tests: the server TRACELET_PG_URL names (.ci/run starts a throw-away one with
 * host-tools/scripts/with-postgres.sh). Every store a test opens gets a fresh database of its own, so suites run in parallel
 * and never see each other's rows; it is dropped when the store is done with.
 */
export const PG_URL = process.env.TRACELET_PG_URL;

/** Why the PostgreSQL variants skip, one line (test/global-setup.js prints it once per run). */
export const PG_SKIP_REASON = "skipped: no PostgreSQL (install postgresql for make test, or set TRACELET_PG_URL)";

export type Backend = "sqlite" | "postgres";

/**
 * Declares the suite once per store backend: `fn("sqlite")`, and `fn("postgres")` when a server is configured
 * (otherwise a skipped suite whose title says why).
 */
export function describeEachBackend(name: string, fn: (backend: Backend) => void): void {
  describe(`${name} [sqlite]`, () => fn("sqlite"));
  if (PG_URL) describe(`${name} [postgres]`, () => fn("postgres"));
  else describe.skip(`${name} [postgres] ${PG_SKIP_REASON}`, () => fn("postgres"));
}

async function admin<T>(f: (c: pg.Client) => Promise<T>): Promise<T> {
  if (!PG_URL) throw new Error(PG_SKIP_REASON);
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

/** Creates an empty database on the test server; resolves with its URL. */
export async function freshPostgresUrl(): Promise<string> {
  const name = `tracelet_t${process.pid}_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(PG_URL!);
  u.pathname = "/" + name;
  return u.toString();
}

/** Drops a database freshPostgresUrl made (closing any connection still open to it). */
export async function dropPostgres(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  if (!/^tracelet_t\d+_[0-9a-f]+$/.test(name)) throw new Error(`not a test database: ${name}`);
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** What startTestAuthority (authority/helpers.ts) opens for a backend: a fresh database, or SQLite in memory. */
export function testDb(backend: Backend): string {
  return backend === "postgres" ? "postgres" : ":memory:";
}

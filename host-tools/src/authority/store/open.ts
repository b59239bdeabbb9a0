import { isPostgresUrl, PostgresStore } from "./postgres";
import { SqliteStore } from "./sqlite";
import { AuthorityStore } from "./store";

/**
 * Opens the store a `--db` value names: a `postgres://` (or `postgresql://`) URL is a PostgreSQL database shared
 * by any number of API nodes; anything else is a SQLite file (`:memory:` for a throw-away one).
 */
export async function openStore(db: string): Promise<AuthorityStore> {
  return isPostgresUrl(db) ? PostgresStore.open(db) : new SqliteStore(db);
}

/** The health-authority server: what the CLI, benchmarks and tests import. */
export { AuthorityApp } from "./app";
export type { AuthorityAppOptions } from "./app";
export { loadConfigFile, parseConfig } from "./config";
export type { AuthorityConfig } from "./config";
export { generateSecretsFile, loadOrCreateSecrets, secretsFromFile } from "./secrets";
export type { AuthoritySecrets } from "./secrets";
export { startServer } from "./server";
export type { RunningAuthority } from "./server";
export { SqliteStore } from "./store/sqlite";
export { PostgresStore } from "./store/postgres";
export { openStore } from "./store/open";
export type { AuthorityStore } from "./store/store";

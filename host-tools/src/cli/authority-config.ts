import { AuthorityConfig, loadConfigFile, parseConfig } from "../authority/config";
import { CliError, ExitCode } from "./exit-codes";
import { requireInputFile } from "./files";

/** The authority's config from `--config` (checked to exist; a bad file is BAD_INPUT), or the defaults without one. */
export function cliAuthorityConfig(configPath: string | undefined): AuthorityConfig {
  if (configPath) requireInputFile("--config", configPath);
  try {
    return configPath ? loadConfigFile(configPath) : parseConfig({});
  } catch (e) {
    throw new CliError(ExitCode.BAD_INPUT, (e as Error).message);
  }
}

import { Command } from "commander";
import * as fs from "fs";
import * as path from "path";
import { AuthorityConfig } from "../authority/config";
import {
  addExportKey,
  describeExportKeys,
  ExportKeyInfo,
  removeExportKey,
  retireExportKey,
} from "../authority/export/signing-keys";
import {
  legacyExportKeyVersion,
  parseSecretsFile,
  readSecretsJson,
  SecretsFile,
  secretsFromFile,
} from "../authority/secrets";
import { cliAuthorityConfig } from "./authority-config";
import { CliError, ExitCode } from "./exit-codes";
import { fileError, requireInputFile } from "./files";
import { emit, log } from "./output";

interface KeysOptions {
  secrets?: string;
  config?: string;
  json?: boolean;
}

interface KeyVersionOptions extends KeysOptions {
  keyVersion: string;
}

interface AddOptions extends KeyVersionOptions {
  publicOut?: string;
}

/**
 * `tracelet authority export-keys list|add|retire|remove`: the export signing keys in the secrets file (rotation,
 * export/signing-keys.ts). Edits the file in place (atomically, mode 0600); the nodes read it when they start.
 * Prints versions, states and public keys only, never a private key.
 */
export function registerExportKeys(authority: Command): void {
  const keys = authority
    .command("export-keys")
    .description("the export signing keys in the secrets file: list, add a new one, retire or remove an old one");
  const common = (c: Command) =>
    c
      .option("--secrets <file>", "the authority's secrets file (default: the config's secretsFile)")
      .option("--config <file>", "the authority's JSON config (exports.keyId; exports.keyVersion of a single key)")
      .option("--json", "print the keys ({version, signing, current, sha256, publicKey}) as JSON on stdout");
  common(keys.command("list").description("list the export keys: version, signing or retired, public key digest"))
    .option("--public-keys", "also print each public key (PEM)")
    .action((opts: KeysOptions & { publicKeys?: boolean }) => {
      const o = open(opts);
      report(opts, o, describeExportKeys(o.file, o.legacyVersion), opts.publicKeys === true);
    });
  common(
    keys
      .command("add")
      .description("generate a new export key that signs from the next start on, beside the current one(s)"),
  )
    .requiredOption("--key-version <v>", "its verification_key_version (e.g. v2), new in this file")
    .option("--public-out <file>", "write the new key's public half (PEM) here, for phones' configuration")
    .action((opts: AddOptions) => {
      const o = open(opts);
      const next = edit(o, (s) => addExportKey(s, opts.keyVersion, o.legacyVersion));
      const info = describeExportKeys(next, o.legacyVersion);
      if (opts.publicOut) {
        const pem = info.find((k) => k.version === opts.keyVersion)!.publicKey;
        try {
          fs.writeFileSync(opts.publicOut, pem, { mode: 0o644 });
        } catch (e) {
          throw fileError("write", opts.publicOut, e);
        }
      }
      const signing = info.filter((k) => k.signing).map((k) => k.version);
      log(
        `authority: added export key "${opts.keyVersion}"; new export files will be signed by ${signing.join(" and ")} ` +
          "once the nodes restart with this file. Retire the old key once phones hold the new public key.",
      );
      if (o.file.exportSigningKey !== undefined && o.config.exports.keyVersion !== undefined) {
        log(`authority: remove exports.keyVersion from ${opts.config}: the secrets file now names each key's version`);
      }
      report(opts, o, info, false);
    });
  common(keys.command("retire").description("stop signing new export files with a key; it stays published"))
    .requiredOption("--key-version <v>", "the key to retire (another key must still sign)")
    .action((opts: KeyVersionOptions) => {
      const o = open(opts);
      const next = edit(o, (s) => retireExportKey(s, opts.keyVersion, o.legacyVersion));
      log(`authority: export key "${opts.keyVersion}" retired: it signs no new export file once the nodes restart`);
      report(opts, o, describeExportKeys(next, o.legacyVersion), false);
    });
  common(keys.command("remove").description("delete a retired key (once no listed export file needs it)"))
    .requiredOption("--key-version <v>", "the retired key to delete")
    .action((opts: KeyVersionOptions) => {
      const o = open(opts);
      const next = edit(o, (s) => removeExportKey(s, opts.keyVersion, o.legacyVersion));
      log(`authority: export key "${opts.keyVersion}" removed: its public key is no longer published`);
      report(opts, o, describeExportKeys(next, o.legacyVersion), false);
    });
}

interface Opened {
  path: string;
  file: SecretsFile;
  config: AuthorityConfig;
  /** The version of a single exportSigningKey (the config's exports.keyVersion, default v1). */
  legacyVersion: string;
}

function open(opts: KeysOptions): Opened {
  const config = cliAuthorityConfig(opts.config);
  const file = opts.secrets ?? config.secretsFile;
  if (!file) throw new CliError(ExitCode.USAGE, "pass --secrets <file> (or --config with a secretsFile)");
  requireInputFile("--secrets", file);
  try {
    const parsed = parseSecretsFile(readSecretsJson(file));
    secretsFromFile(parsed, config); // every key and field checked before anything is changed
    return { path: path.resolve(file), file: parsed, config, legacyVersion: legacyExportKeyVersion(config) };
  } catch (e) {
    throw new CliError(ExitCode.BAD_INPUT, (e as Error).message);
  }
}

/** Applies `change` (its refusals are usage errors) and writes the file atomically, mode 0600. */
function edit(o: Opened, change: (s: SecretsFile) => SecretsFile): SecretsFile {
  let next: SecretsFile;
  try {
    next = change(o.file);
  } catch (e) {
    throw new CliError(ExitCode.USAGE, (e as Error).message);
  }
  // The result must load as the nodes will load it (the config's keyVersion no longer applies).
  try {
    secretsFromFile(next, { ...o.config, exports: { ...o.config.exports, keyVersion: undefined } });
  } catch (e) {
    throw new CliError(ExitCode.BAD_INPUT, (e as Error).message);
  }
  const tmp = `${o.path}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, "wx", 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(next, null, 2) + "\n");
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, o.path);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fileError("write the secrets file", o.path, e);
  }
  return next;
}

function report(opts: KeysOptions, o: Opened, keys: ExportKeyInfo[], withPem: boolean): void {
  const data = { secretsFile: o.path, keyId: o.config.exports.keyId, keys };
  emit(opts, data, () =>
    [
      `export keys in ${o.path} (key id "${o.config.exports.keyId}"), oldest first:`,
      ...keys.map(
        (k) =>
          `  ${k.version.padEnd(8)} ${(k.signing ? "signing" + (k.current ? ", current" : "") : "retired").padEnd(17)}` +
          ` sha256 ${k.sha256}` +
          (withPem ? "\n" + k.publicKey.trimEnd() : ""),
      ),
    ].join("\n"),
  );
}

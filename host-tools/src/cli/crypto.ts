import { Command } from "commander";
import { fromHex, toHex } from "../../../firmware/src/protocol/bytes";
import { pureCrypto } from "../../../firmware/src/protocol/crypto";
import { computeAem, computeRpi, deriveAemk, deriveRpik, enMetadata } from "../../../firmware/src/protocol/gaen";
import { CliError, ExitCode } from "./exit-codes";
import { parseNumberOption } from "./options";
import { emit } from "./output";

interface RpiOptions {
  tek: string;
  interval: string;
  metadata?: string;
  json?: boolean;
}

/** `tracelet crypto rpi`: the band's own pure Exposure Notification code, for checking vectors and debugging. */
export function registerCrypto(program: Command): void {
  const crypto = program
    .command("crypto")
    .description("Exposure Notification crypto, computed by the firmware's pure code");
  crypto
    .command("rpi")
    .description("compute the RPI and AEM of a TEK for one ENIntervalNumber")
    .requiredOption("--tek <hex>", "temporary exposure key, 32 hex digits")
    .requiredOption("--interval <enin>", "ENIntervalNumber (unix seconds / 600)")
    .option("--metadata <hex>", "4 metadata bytes as 8 hex digits (default: version 0x40, tx power 0)")
    .option("--json", "machine-readable output on stdout")
    .action((opts: RpiOptions) => {
      const result = computeRpiCommand(opts);
      emit(opts, result, () => `rpi ${result.rpi}\naem ${result.aem}`);
    });
}

export function computeRpiCommand(opts: RpiOptions): { rpi: string; aem: string } {
  const tek = fromHex(opts.tek, 16);
  if (!tek.ok) throw new CliError(ExitCode.USAGE, `--tek: ${tek.error}`);
  const interval = parseNumberOption("interval", opts.interval, { min: 0, max: 0xffffffff, integer: true });
  let metadata = enMetadata(0);
  if (opts.metadata !== undefined) {
    const m = fromHex(opts.metadata, 4);
    if (!m.ok) throw new CliError(ExitCode.USAGE, `--metadata: ${m.error}`);
    metadata = m.value;
  }
  const rpi = computeRpi(pureCrypto, deriveRpik(pureCrypto, tek.value), interval);
  const aem = computeAem(pureCrypto, deriveAemk(pureCrypto, tek.value), rpi, metadata);
  return { rpi: toHex(rpi), aem: toHex(aem) };
}

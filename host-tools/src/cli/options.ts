import { CliError, ExitCode } from "./exit-codes";

/**
 * Numeric command-line options: every verb parses its numbers here, so that a bad value gets the same one-line
 * message ("--bands: must be a whole number from 1 to 100000, got "2.5"") and the USAGE exit code everywhere.
 */
export interface NumberRange {
  min: number;
  max: number;
  /** Whole numbers only (counts, seeds, ports). */
  integer?: boolean;
}

/** Parses `raw` (the option's text) as a number within `range`; `undefined` stays `undefined`. */
export function parseNumberOption(name: string, raw: string, range: NumberRange): number;
export function parseNumberOption(name: string, raw: string | undefined, range: NumberRange): number | undefined;
export function parseNumberOption(name: string, raw: string | undefined, range: NumberRange): number | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim();
  // Number("") is 0 and Number("0x10") is 16: accept plain decimal notation only.
  const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : NaN;
  const kind = range.integer ? "a whole number" : "a number";
  if (!Number.isFinite(n) || (range.integer && !Number.isInteger(n)) || n < range.min || n > range.max) {
    throw new CliError(ExitCode.USAGE, `--${name}: must be ${kind} from ${range.min} to ${range.max}, got "${raw}"`);
  }
  return n;
}

/** Parses one of a fixed set of words (`--radio indoor`), with the known ones in the message. */
export function parseChoiceOption<T extends string>(name: string, raw: string, known: readonly T[]): T {
  if (!known.includes(raw as T)) {
    throw new CliError(ExitCode.USAGE, `--${name}: unknown value "${raw}" (known: ${known.join(", ")})`);
  }
  return raw as T;
}

/** "1 band", "2 bands": counts in messages agree with their noun. */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : pluralForm}`;
}

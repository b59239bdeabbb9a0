/**
 * Named exit codes, the one table for every verb: scripts that drive `tracelet` can tell failures apart without
 * parsing text. Every failure prints one line on stderr, `tracelet <verb>: <reason> (exit <n> <NAME>)`, whether
 * commander or the verb found the mistake.
 */
export const ExitCode = {
  OK: 0,
  /** Unexpected internal failure (a bug: run with TRACELET_DEBUG=1 for the stack). */
  INTERNAL: 1,
  /**
   * Bad command line: unknown verb or option, missing or extra argument, a value that is not a number, out of
   * range, not one of the known words (hex on the command line included), or a run too large without --force.
   */
  USAGE: 2,
  /** The contents of an input file are malformed (scenario JSON, config, secrets). */
  BAD_INPUT: 3,
  /** Unknown or invalid board profile. */
  BOARD: 4,
  /** Firmware build or the Espruino dialect gate failed. */
  BUILD: 5,
  /** A device (real or simulated) could not be reached or misbehaved. */
  DEVICE: 6,
  /** Authentication or authorisation failed. */
  AUTH: 7,
  /** A network peer (authority, kiosk) failed or refused. */
  NETWORK: 8,
  /** A benchmark target or a simulation check was missed. */
  TARGET_MISSED: 9,
  /** A file or folder could not be read or written (the message names the path and the cause). */
  FILE: 10,
} as const;

export type ExitCodeName = keyof typeof ExitCode;

/** The name of an exit code (`USAGE` for 2). */
export function exitCodeName(code: number): string {
  return (Object.keys(ExitCode) as ExitCodeName[]).find((k) => ExitCode[k] === code) ?? "UNKNOWN";
}

/** An error that the CLI reports as one line on stderr and turns into a named exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Named exit codes: scripts that drive `tracelet` can tell failures apart without parsing text. */
export const ExitCode = {
  OK: 0,
  /** Unexpected internal failure. */
  INTERNAL: 1,
  /** Bad command-line usage or bad argument values. */
  USAGE: 2,
  /** Input data (file, hex, JSON) is malformed. */
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
} as const;

export type ExitCodeName = keyof typeof ExitCode;

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

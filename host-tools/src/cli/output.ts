/** Output conventions of the CLI contract: machine JSON or human text on stdout, logs on stderr. */
export interface OutputOptions {
  json?: boolean;
}

/** Prints a command's result: JSON on stdout with --json, else the human rendering. */
export function emit(opts: OutputOptions, data: unknown, human: () => string): void {
  if (opts.json) {
    process.stdout.write(JSON.stringify(data, null, 2) + "\n");
  } else {
    process.stdout.write(human() + "\n");
  }
}

/** Log lines go to stderr so that stdout stays parseable. */
export function log(message: string): void {
  process.stderr.write(message + "\n");
}

import { Command, CommanderError } from "commander";
import { CliError, ExitCode } from "./exit-codes";
import { registerVerbs } from "./verbs";

/** Builds the `tracelet` program; each verb lives in its own file and registers itself here. */
export function buildProgram(): Command {
  const program = new Command("tracelet")
    .description("Tracelet: contact-tracing wristbands and the tools around them")
    .showHelpAfterError(false)
    .exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerVerbs(program);
  return program;
}

/** Runs the CLI and maps every failure to a one-line reason on stderr and a named exit code. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err);
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and version are successful exits; commander already printed its own message otherwise.
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0) return 0;
    return ExitCode.USAGE;
  }
  if (err instanceof CliError) {
    process.stderr.write(`tracelet: ${oneLine(err.message)}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`tracelet: internal error: ${oneLine(message)}\n`);
  if (process.env.TRACELET_DEBUG && err instanceof Error) process.stderr.write(String(err.stack) + "\n");
  return ExitCode.INTERNAL;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

import { Command, CommanderError } from "commander";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../build/paths";
import { CliError, ExitCode, exitCodeName } from "./exit-codes";
import { fileErrorCause, isFileSystemError } from "./files";
import { registerVerbs } from "./verbs";

/** The package version (package.json at the project root, wherever the CLI is run from). */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
}

/** Builds the `tracelet` program; each verb lives in its own file and registers itself here. */
export function buildProgram(): Command {
  const program = new Command("tracelet")
    .description("Tracelet: contact-tracing wristbands and the tools around them")
    .version(packageVersion(), "-V, --version", "print the Tracelet version")
    .showHelpAfterError(false)
    .exitOverride();
  // Commander's own messages ("error: unknown option ...") are printed by main() in the project's one style.
  program.configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => undefined });
  registerVerbs(program);
  return program;
}

/** Runs the CLI and maps every failure to a one-line reason on stderr and a named exit code. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const { code, message } = failure(err);
    if (code !== ExitCode.OK) {
      process.stderr.write(`${verbPath(program, argv.slice(2))}: ${message} (exit ${code} ${exitCodeName(code)})\n`);
      if (code === ExitCode.INTERNAL && process.env.TRACELET_DEBUG && err instanceof Error) {
        process.stderr.write(String(err.stack) + "\n");
      }
    }
    process.exitCode = code;
  }
}

/** The exit code and the one-line reason for anything a verb or commander threw. */
export function failure(err: unknown): { code: number; message: string } {
  if (err instanceof CommanderError) {
    // Help and version are successful exits; `tracelet` alone prints the help and is a usage mistake.
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0) {
      return { code: ExitCode.OK, message: "" };
    }
    const text = err.code === "commander.help" ? "no command given (see the list above)" : err.message;
    return { code: ExitCode.USAGE, message: oneLine(text.replace(/^error: /, "")) };
  }
  if (err instanceof CliError) return { code: err.exitCode, message: oneLine(err.message) };
  // A file the verb did not expect to fail on: still name the path and the cause, not "internal error".
  if (isFileSystemError(err) && err.path) {
    return {
      code: ExitCode.FILE,
      message: oneLine(`cannot ${err.syscall ?? "use"} ${err.path}: ${fileErrorCause(err)}`),
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: ExitCode.INTERNAL, message: oneLine(`internal error: ${message} (TRACELET_DEBUG=1 shows the stack)`) };
}

/** "tracelet authority serve" from the arguments, as far as they name known (sub)commands. */
function verbPath(program: Command, args: string[]): string {
  const names = [program.name()];
  let cmd: Command | undefined = program;
  for (const a of args) {
    if (a.startsWith("-")) break;
    cmd = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!cmd) break;
    names.push(cmd.name());
  }
  return names.join(" ");
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

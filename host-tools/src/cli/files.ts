import * as fs from "fs";
import * as path from "path";
import { CliError, ExitCode } from "./exit-codes";

/** A Node system error (ENOENT, EACCES, ...) with the path it was about. */
export function isFileSystemError(e: unknown): e is NodeJS.ErrnoException & { code: string } {
  return (
    e instanceof Error &&
    typeof (e as NodeJS.ErrnoException).code === "string" &&
    /^E[A-Z]+$/.test((e as NodeJS.ErrnoException).code as string)
  );
}

/** "no such file or directory (ENOENT)" from a Node system error, without Node's repetition of the path. */
export function fileErrorCause(e: unknown): string {
  if (!isFileSystemError(e)) return e instanceof Error ? e.message : String(e);
  const text = e.message.replace(/^E[A-Z]+: /, "").replace(/, \w+ '.*'$/, "");
  return `${text} (${e.code})`;
}

/** A CliError with exit code FILE that names what could not be done, the path and the cause. */
export function fileError(what: string, file: string, cause: unknown): CliError {
  return new CliError(ExitCode.FILE, `cannot ${what} ${file}: ${fileErrorCause(cause)}`);
}

/**
 * Makes sure `file` can be written before any work starts: creates missing folders, refuses a folder or a file in
 * the way, and tries opening it (removing it again when it did not exist), so that a long run is not lost at the end.
 * Returns the absolute path.
 */
export function prepareOutputFile(file: string, what: string): string {
  const abs = path.resolve(file);
  try {
    makeFolder(path.dirname(abs));
  } catch (e) {
    throw fileError(`create the folder for the ${what}`, path.dirname(abs), e);
  }
  if (fs.existsSync(abs) && fs.statSync(abs).isDirectory()) {
    throw new CliError(ExitCode.FILE, `cannot write the ${what} ${file}: it is a folder`);
  }
  const existed = fs.existsSync(abs);
  try {
    fs.closeSync(fs.openSync(abs, "a"));
    if (!existed) fs.unlinkSync(abs);
  } catch (e) {
    throw fileError(`write the ${what}`, file, e);
  }
  return abs;
}

/** An input file named by an option must exist and be readable: a FILE error naming the option and path if not. */
export function requireInputFile(option: string, file: string): void {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    throw new CliError(ExitCode.FILE, `${option}: cannot read ${file}: ${fileErrorCause(e)}`);
  }
  if (fs.statSync(file).isDirectory()) throw new CliError(ExitCode.FILE, `${option}: ${file} is a folder, not a file`);
}

/** Makes sure `dir` is (or can become) a folder before work that writes into it starts. */
export function prepareOutputFolder(dir: string, what: string): void {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
    throw new CliError(ExitCode.FILE, `cannot create the ${what} ${dir}: a file of that name is in the way`);
  }
  try {
    makeFolder(dir);
  } catch (e) {
    throw fileError(`create the ${what}`, dir, e);
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw fileError(`write into the ${what}`, dir, e);
  }
}

/** Writes an output file, turning a failure into a FILE error that names the path and the cause. */
export function writeOutputFile(file: string, data: string, what: string): void {
  try {
    makeFolder(path.dirname(path.resolve(file)));
    fs.writeFileSync(file, data);
  } catch (e) {
    throw fileError(`write the ${what}`, file, e);
  }
}

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdirSync never returns for a path under /proc (it retries
 * ENOENT forever), so a bad --report path would hang instead of failing.
 */
export function makeFolder(dir: string): void {
  const missing: string[] = [];
  let d = path.resolve(dir);
  while (!fs.existsSync(d)) {
    missing.unshift(d);
    const parent = path.dirname(d);
    if (parent === d) break;
    d = parent;
  }
  if (!fs.statSync(d).isDirectory()) {
    throw Object.assign(new Error(`${d} is a file, not a folder`), { code: "ENOTDIR", path: d });
  }
  for (const m of missing) fs.mkdirSync(m);
}

/**
 * `--authority <url> --api-key-file <file>`, as the kiosk and the flasher take them: the URL must be http(s), the
 * key is read from its file (never the command line) and must not be empty. `role` names the key in messages.
 */
export function authorityOption(
  url: string,
  apiKeyFile: string | undefined,
  role: string,
): { url: string; apiKey: string } {
  if (!/^https?:\/\/[^/]/.test(url))
    throw new CliError(ExitCode.USAGE, `--authority must be an http(s) URL, got "${url}"`);
  if (!apiKeyFile)
    throw new CliError(
      ExitCode.USAGE,
      `--authority needs --api-key-file (the ${role} API key, kept off the command line)`,
    );
  requireInputFile("--api-key-file", apiKeyFile);
  const apiKey = fs.readFileSync(apiKeyFile, "utf8").trim();
  if (!apiKey)
    throw new CliError(ExitCode.BAD_INPUT, `--api-key-file: ${apiKeyFile} is empty (it must hold a ${role} API key)`);
  return { url, apiKey };
}

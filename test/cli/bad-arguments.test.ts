import { Command } from "commander";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildProgram, main } from "../../host-tools/src/cli/main";
import { ExitCode, exitCodeName } from "../../host-tools/src/cli/exit-codes";
import { CliResult, runCli } from "../helpers/cli";
import { ROOT } from "../helpers/paths";

/**
 * Every verb's bad-argument paths, as a user meets them: one line on stderr in the one style
 * `tracelet <verb>: <reason> (exit <n> <NAME>)`, nothing on stdout, and the exit code from exit-codes.ts, whether
 * commander or the verb found the mistake. The table runs in this process (a spawn per case costs a second of
 * start-up each); a few cases also run through the real entry point from a folder outside the project.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-bad-args-"));
const notJson = path.join(dir, "not-json.json");
fs.writeFileSync(notJson, '{"name": ');
const noPeople = path.join(dir, "no-people.json");
fs.writeFileSync(noPeople, '{"name": "x"}');
const apiKey = path.join(dir, "flasher.key");
fs.writeFileSync(apiKey, "a-flasher-key-for-the-bad-argument-cases\n", { mode: 0o600 });
const notJsonRegistry = path.join(dir, "not-json-registry.json");
fs.writeFileSync(notJsonRegistry, "{", { mode: 0o600 });
const emptyKey = path.join(dir, "empty.key");
fs.writeFileSync(emptyKey, "\n", { mode: 0o600 });
const deployment = (name: string, json: string) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, json);
  return file;
};
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const { USAGE, BAD_INPUT, BOARD, FILE } = ExitCode;
const S = ["simulate", "--scenario", "care-home"];
/** `tracelet flash` on a simulated band with an offline registry: each case below breaks one thing. */
const F = ["flash", "--board", "puckjs", "--port", "sim"];
const REG = ["--registry", path.join(dir, "flashed.json")];

const CASES: [string[], number, RegExp][] = [
  [["nope"], USAGE, /unknown command 'nope'/],
  [["--bogus"], USAGE, /unknown option '--bogus'/],
  // build
  [["build"], USAGE, /exactly one of --board <id> or --all/],
  [["build", "--board", "moon"], BOARD, /moon/],
  [["build", "--all", "--fast"], USAGE, /unknown option '--fast'/],
  // boards
  [["boards", "--board", "moon"], BOARD, /moon/],
  [["boards", "extra"], USAGE, /too many arguments/],
  // crypto
  [["crypto"], USAGE, /no command given/],
  [["crypto", "rpi", "--interval", "1"], USAGE, /required option '--tek <hex>'/],
  [["crypto", "rpi", "--tek", "xyz", "--interval", "1"], USAGE, /--tek/],
  [["crypto", "rpi", "--tek", "00".repeat(16), "--interval", "-1"], USAGE, /--interval: must be a whole number/],
  [["crypto", "rpi", "--tek", "00".repeat(16), "--interval", "2.5"], USAGE, /--interval: .* got "2\.5"/],
  [["crypto", "rpi", "--tek", "00".repeat(16), "--interval", "1", "--metadata", "40"], USAGE, /--metadata/],
  // simulate: every numeric option, every word option, files
  [["simulate"], USAGE, /required option '--scenario <name\|file>'/],
  [[...S, "--bands", "2.5"], USAGE, /--bands: must be a whole number from 1 to 100000, got "2\.5"/],
  [[...S, "--bands", "0"], USAGE, /--bands: must be a whole number/],
  [[...S, "--bands", "ten"], USAGE, /--bands: must be a whole number/],
  [[...S, "--bands", ""], USAGE, /--bands: must be a whole number/],
  [[...S, "--bands", "0x10"], USAGE, /--bands: must be a whole number/],
  [[...S, "--bands", "100000"], USAGE, /100000 bands for 24 hours would take about .* --force/],
  [[...S, "--hours", "1e9"], USAGE, /--hours: must be a number from 0\.01 to 8784/],
  [[...S, "--hours", "0"], USAGE, /--hours/],
  [[...S, "--hours", "8000", "--bands", "50"], USAGE, /50 bands for 8000 hours would take about .* --force/],
  [[...S, "--seed", "-1"], USAGE, /--seed: must be a whole number/],
  [[...S, "--seed", "1.5"], USAGE, /--seed/],
  [[...S, "--attenuation", "loud"], USAGE, /--attenuation: must be a number/],
  [[...S, "--power-cuts", "-1"], USAGE, /--power-cuts/],
  [[...S, "--clock-jumps", "often"], USAGE, /--clock-jumps/],
  [[...S, "--radio", "moon"], USAGE, /--radio: unknown value "moon" \(known: .*indoor/],
  [[...S, "--hostile", "replay,lasers"], USAGE, /--hostile: unknown value "lasers"/],
  [[...S, "--board", "moon"], BOARD, /moon/],
  [[...S, "--bnads", "3"], USAGE, /unknown option '--bnads'.*--bands/],
  [["simulate", "--scenario", "nope"], USAGE, /unknown scenario "nope"/],
  [
    ["simulate", "--scenario", path.join(dir, "missing.json")],
    FILE,
    /--scenario: cannot read .*missing\.json: .*ENOENT/,
  ],
  [["simulate", "--scenario", notJson], BAD_INPUT, /invalid scenario .*not-json\.json: not JSON/],
  [["simulate", "--scenario", noPeople], BAD_INPUT, /invalid scenario .*no-people\.json: people/],
  [[...S, "--bundle", path.join(dir, "none.js")], FILE, /--bundle: cannot read .*none\.js/],
  [[...S, "--report", "/proc/tracelet/r.html"], FILE, /cannot .*\/proc\/tracelet/],
  [[...S, "--report", dir], FILE, /it is a folder/],
  [[...S, "--report", path.join(notJson, "r.html")], FILE, /not-json\.json is a file, not a folder \(ENOTDIR\)/],
  // demo
  [["demo", "--bands", "1"], USAGE, /--bands: must be a whole number from 2 to 100000, got "1"/],
  [["demo", "--bands", "one"], USAGE, /--bands/],
  [["demo", "--hours", "-3"], USAGE, /--hours/],
  [["demo", "--seed", "x"], USAGE, /--seed/],
  [["demo", "--bands", "3000"], USAGE, /3000 bands for 3 days would take about \d+ minutes/],
  [["demo", "--report", "/proc/tracelet/demo.html"], FILE, /cannot .*\/proc\/tracelet/],
  // authority
  [["authority"], USAGE, /no command given/],
  [["authority", "serve", "--port", "70000"], USAGE, /--port: must be a whole number from 0 to 65535/],
  [["authority", "serve", "--port", "80.5"], USAGE, /--port/],
  [["authority", "serve", "--tls-cert", "x.pem"], USAGE, /--tls-cert and --tls-key go together/],
  [["authority", "serve", "--config", path.join(dir, "none.json")], FILE, /--config: cannot read/],
  // bench
  [["authority", "registry", "export", "--out", path.join(dir, "r.json")], USAGE, /required option '--db <path\|url>'/],
  [
    ["authority", "serve", "--db", "postgres://u:Sekr1t@127.0.0.1:1/x"],
    USAGE,
    /--db postgres:\/\/\.\.\.: set secretsFile in --config/,
  ],
  [
    ["authority", "registry", "export", "--db", "postgres://u:Sekr1t@127.0.0.1:1/x", "--out", path.join(dir, "r.json")],
    USAGE,
    /--db postgres:\/\/\.\.\.: pass --secrets <file>/,
  ],
  [["authority", "worker"], USAGE, /required option '--db <path\|url>'/],
  [["authority", "exports", "write", "--out", path.join(dir, "www")], USAGE, /required option '--db <path\|url>'/],
  [["authority", "exports", "write", "--db", path.join(dir, "a.db")], USAGE, /required option '--out <dir>'/],
  [
    ["authority", "exports", "write", "--db", path.join(dir, "none.db"), "--out", path.join(dir, "www")],
    FILE,
    /--db: cannot read .*none\.db/,
  ],
  [
    ["authority", "exports", "write", "--db", "postgres://u:Sekr1t@127.0.0.1:1/x", "--out", path.join(dir, "www")],
    USAGE,
    /--db postgres:\/\/\.\.\.: pass --secrets <file>/,
  ],
  [["authority", "worker", "--db", path.join(dir, "none.db")], FILE, /--db: cannot read .*none\.db/],
  [
    ["authority", "registry", "export", "--db", path.join(dir, "none.db"), "--out", path.join(dir, "r.json")],
    FILE,
    /--db: cannot read .*none\.db/,
  ],
  [["authority", "registry", "import", "--db", path.join(dir, "a.db")], USAGE, /required option '--in <file>'/],
  [
    ["authority", "registry", "import", "--db", path.join(dir, "none.db"), "--in", notJsonRegistry],
    BAD_INPUT,
    /band registry file .*not-json-registry\.json is not JSON/,
  ],
  [
    ["authority", "registry", "import", "--db", path.join(dir, "none.db"), "--in", path.join(dir, "none.json")],
    FILE,
    /--in: cannot read .*none\.json: .*ENOENT/,
  ],
  [["authority", "export-keys"], USAGE, /no command given/],
  [
    ["authority", "export-keys", "add", "--secrets", path.join(dir, "s.json")],
    USAGE,
    /required option '--key-version <v>'/,
  ],
  [["authority", "export-keys", "list"], USAGE, /pass --secrets <file>/],
  [
    ["authority", "export-keys", "remove", "--secrets", path.join(dir, "s.json")],
    USAGE,
    /required option '--key-version <v>'/,
  ],
  [
    ["authority", "export-keys", "retire", "--secrets", path.join(dir, "none.json"), "--key-version", "v1"],
    FILE,
    /--secrets: cannot read .*none\.json: .*ENOENT/,
  ],
  // flash: every option is checked before a band is waited for or touched
  [["flash", "--port", "sim", ...REG], USAGE, /--board <id> is required \(tracelet boards lists them\)/],
  [["flash", "--board", "moon", "--port", "sim", ...REG], BOARD, /unknown board "moon" \(known boards: .*puckjs/],
  [
    ["flash", "--board", "puckjs", ...REG],
    USAGE,
    /--port is required: a serial port, a Bluetooth address or name, or sim/,
  ],
  [F, USAGE, /every band must be registered: give --authority <url> --api-key-file <file>, or --registry <file>/],
  [
    [...F, "--authority", "http://127.0.0.1:9", "--api-key-file", apiKey, ...REG],
    USAGE,
    /give either --authority or --registry, not both/,
  ],
  [
    [...F, "--authority", "ftp://x", "--api-key-file", apiKey],
    USAGE,
    /--authority must be an http\(s\) URL, got "ftp:\/\/x"/,
  ],
  [[...F, "--authority", "https://x"], USAGE, /--authority needs --api-key-file/],
  [
    [...F, "--authority", "https://x", "--api-key-file", path.join(dir, "none.key")],
    FILE,
    /--api-key-file: cannot read .*none\.key: .*ENOENT/,
  ],
  [[...F, "--authority", "https://x", "--api-key-file", emptyKey], BAD_INPUT, /--api-key-file: .*empty\.key is empty/],
  [[...F, ...REG, "--deployment", path.join(dir, "none-dep.json")], FILE, /--deployment: cannot read .*none-dep\.json/],
  [[...F, ...REG, "--deployment", notJson], BAD_INPUT, /deployment file .*not-json\.json is not JSON/],
  [
    [...F, ...REG, "--deployment", deployment("public.json", '{"mode": "public"}')],
    BAD_INPUT,
    /deployment file .*public\.json: mode: .*"private"\|"escrow"/,
  ],
  [
    [...F, ...REG, "--deployment", deployment("short.json", '{"retentionDays": 5}')],
    BAD_INPUT,
    /deployment file .*short\.json: retentionDays: .*14/,
  ],
  [
    [...F, ...REG, "--deployment", deployment("typo.json", '{"retentionDay": 21}')],
    BAD_INPUT,
    /deployment file .*typo\.json: .*retentionDay/,
  ],
  [[...F, ...REG, "--count", "3"], USAGE, /--count goes with --batch/],
  [[...F, ...REG, "--batch"], USAGE, /--port sim --batch needs --count <n>/],
  [[...F, ...REG, "--batch", "--count", "0"], USAGE, /--count: must be a whole number from 1 to 1000, got "0"/],
  [[...F, ...REG, "--baud", "7"], USAGE, /--baud: must be a whole number from 1200 to 1000000, got "7"/],
  [
    [...F, "--registry", "/proc/tracelet/bands.json"],
    FILE,
    /cannot write band registry file \/proc\/tracelet\/bands\.json/,
  ],
  [[...F, ...REG, "--labels", "/proc/tracelet/labels.svg"], FILE, /cannot .*\/proc\/tracelet/],
  [["kiosk", "--links", "9"], USAGE, /--links: must be a whole number from 1 to 8, got "9"/],
  [["kiosk", "--sim", "1", "--port", "99999"], USAGE, /--port: must be a whole number from 0 to 65535/],
  [["kiosk", "--sim", "1", "--export-key", path.join(dir, "none.pem")], FILE, /--export-key: cannot read/],
  [["kiosk", "--sim", "1", "--exposure-config", notJson], BAD_INPUT, /--exposure-config .*not-json\.json/],
  [["kiosk", "--authority", "ftp://x", "--sim", "1"], USAGE, /--authority must be an http\(s\) URL/],
  [["sync", "1", "--sim", "0"], USAGE, /--sim: must be a whole number from 1 to 200, got "0"/],
  [["sync", "4", "--sim", "3"], USAGE, /band: must be a whole number from 1 to 3, got "4"/],
  [["sync", "xyz", "--sim", "1"], USAGE, /band: must be a whole number/],
  [["sync", "1", "--sim", "2", "--timeout", "0"], USAGE, /--timeout: must be a number from 1 to 3600/],
  [["bench", "--only", "nope"], USAGE, /--only: unknown bench section "nope"/],
  [["bench", "--fast"], USAGE, /unknown option '--fast'/],
];

/** "authority serve", "simulate", ...: every command that does something (not a group of sub-commands). */
function leafVerbs(cmd: Command, prefix: string[] = []): string[] {
  return cmd.commands.flatMap((c) =>
    c.commands.length ? leafVerbs(c, [...prefix, c.name()]) : [[...prefix, c.name()].join(" ")],
  );
}

/** "tracelet authority serve" for the arguments, as far as they name commands: the prefix of the message. */
function verbPath(args: string[]): string {
  const names = ["tracelet"];
  let cmd: Command | undefined = buildProgram();
  for (const a of args) {
    cmd = cmd.commands.find((c) => c.name() === a);
    if (!cmd) break;
    names.push(a);
  }
  return names.join(" ");
}

describe("tracelet with bad arguments", () => {
  test("every verb has bad-argument cases here", () => {
    const covered = new Set(CASES.map(([args]) => verbPath(args).replace(/^tracelet ?/, "")));
    for (const verb of leafVerbs(buildProgram())) {
      expect({ verb, covered: covered.has(verb) }).toEqual({
        verb,
        covered: true,
      });
    }
  });

  test.each(CASES)("%j: exit %d", async (args, code, message) => {
    const r = await runInProcess(args);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    // A group without its sub-command shows the help first: the reason is still the last line.
    if (!/no command given/.test(message.source)) expect(lines).toHaveLength(1);
    const last = lines[lines.length - 1];
    expect(last).toMatch(message);
    expect(last.startsWith(`${verbPath(args)}: `)).toBe(true);
    expect(last).toMatch(new RegExp(`\\(exit ${code} ${exitCodeName(code)}\\)$`));
    expect(r.status).toBe(code);
  });

  test.each([
    [["--bogus"], USAGE],
    [["simulate", "--scenario", "care-home", "--bands", "2.5"], USAGE],
    [["simulate", "--scenario", "missing.json"], FILE],
  ] as [string[], number][])("%j through bin/tracelet.js from another folder", (args, code) => {
    const r = runCli(args, { cwd: dir });
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^${verbPath(args)}: .* \\(exit ${code} ${exitCodeName(code)}\\)\n$`));
    expect(r.status).toBe(code);
  });

  test("tracelet alone shows the verbs and exits with USAGE", () => {
    const r = runCli([], { cwd: dir });
    expect(r.stderr).toMatch(/simulate/);
    expect(r.stderr.trim().split("\n").pop()).toBe("tracelet: no command given (see the list above) (exit 2 USAGE)");
    expect(r.status).toBe(ExitCode.USAGE);
  });

  test("--version prints the package version", () => {
    const r = runCli(["--version"], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version);
  });
});

/** main() as bin/tracelet.js calls it, with stdout, stderr and the exit code captured. */
async function runInProcess(args: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const out = jest.spyOn(process.stdout, "write").mockImplementation((s) => ((stdout += String(s)), true));
  const err = jest.spyOn(process.stderr, "write").mockImplementation((s) => ((stderr += String(s)), true));
  const before = process.exitCode;
  try {
    process.exitCode = 0;
    await main(["node", "tracelet", ...args]);
    return { status: Number(process.exitCode), stdout, stderr };
  } finally {
    process.exitCode = before;
    out.mockRestore();
    err.mockRestore();
  }
}

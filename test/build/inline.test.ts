import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";
import * as vm from "vm";
import { inlineSingleCalls } from "../../host-tools/src/build/inline";

// The build's inliner (host-tools/src/build/inline.ts): single-call functions written into their callers. Each
// program below runs before and after in V8 and must print the same; the functions it should inline are named.

const IDENTITY_MAP = JSON.stringify({ version: 3, sources: ["in.js"], names: [], mappings: "" });

function run(code: string): string[] {
  const out: string[] = [];
  vm.runInNewContext(code, { print: (...a: unknown[]) => out.push(a.map((x) => JSON.stringify(x)).join(" ")) });
  return out;
}

function inline(code: string): { code: string; inlined: string[] } {
  const r = inlineSingleCalls(code, IDENTITY_MAP);
  return { code: r.code, inlined: r.inlined };
}

const CASES: { name: string; code: string; inlined: string[] }[] = [
  {
    name: "a statement call, its early returns leaving the block",
    code: `var log = [];
function note(a, b) { if (a > 1) { log.push("big"); return; } log.push(a + b); }
function main(x) { for (let i = 0; i < 3; i++) note(i, x); print(log); }
main(10);`,
    inlined: ["note", "main"],
  },
  {
    name: "a declaration takes the value of every return",
    code: `function pick(a) { if (a < 0) return "neg"; for (let i = 0; i < 2; i++) a += i; return a; }
function main() { for (let v = -1; v < 2; v++) { const r = pick(v); print(r); } }
main();`,
    inlined: ["pick", "main"],
  },
  {
    name: "an assignment, including a body that falls off its end",
    code: `var x = 5;
function none(a) { print(a); }
function main() { x = none(1); print(x); }
main();`,
    inlined: ["none", "main"],
  },
  {
    name: "a return of the call keeps the body's returns, and falls through to undefined",
    code: `function inner(a) { if (a) return 1; print("none"); }
function outer(a) { return inner(a); }
print(outer(1)); print(outer(0));`,
    inlined: ["inner"],
  },
  {
    name: "an expression body anywhere in an expression, arguments evaluated once and in order",
    code: `var n = 0;
function tick() { return ++n; }
function twice(a) { return a * 2; }
function main() { print(n > 100 || twice(tick()) + tick()); }
main();`,
    inlined: ["twice", "main"],
  },
  {
    name: "a call evaluated first moves in front of its statement",
    code: `var calls = [];
function sideA(a) { calls.push("a" + a); let t = a + 1; return t; }
function go(a) { calls.push("go"); return a; }
function main() { if (sideA(1) > 1 && go(2)) print(calls); }
main();`,
    // go() runs only when the left side holds: it stays where it is (and, more than a return, stays a function).
    inlined: ["sideA", "main"],
  },
  {
    name: "sequences and conditions as the minifier writes them",
    code: `var s = [];
function a1(v) { s.push("a" + v); }
function b1(v) { s.push("b" + v); }
function c1(v) { s.push("c" + v); }
function main(f) { f && (a1(1), b1(2)); f ? c1(3) : s.push("no"); print(s); }
main(1);`,
    inlined: ["a1", "b1", "c1", "main"],
  },
  {
    name: "closures keep their own binding per call site",
    code: `var fns = [];
function make(v) { fns.push(() => v); }
function main() { for (let i = 0; i < 3; i++) make(i); print(fns.map((f) => f())); }
main();`,
    inlined: ["make", "main"],
  },
  {
    name: "shorthand properties of a renamed parameter",
    code: `function wrap(a) { return { a }; }
function main() { let a = 7; print(wrap(a + 1), a); }
main();`,
    inlined: ["wrap", "main"],
  },
];

describe("the build's inliner", () => {
  it.each(CASES)("$name: same output, inlined", ({ code, inlined }) => {
    const after = inline(code);
    expect(run(after.code)).toEqual(run(code));
    expect(after.inlined.sort()).toEqual([...inlined].sort());
  });

  it("leaves a function whose free names the call site shadows", () => {
    const code = `var k = 1;
function useK() { return k + 1; }
function main() { let k = 10; print(useK(), k); }
main(); main();`;
    const after = inline(code);
    expect(after.inlined).not.toContain("useK");
    expect(run(after.code)).toEqual(run(code));
  });

  it("leaves functions called twice, passed as values, using this or arguments, or called before declaration", () => {
    const code = `function twice() { return 1; }
function asValue() { return 2; }
function args() { return arguments.length; }
function main() { print(twice() + twice(), [1].map(asValue), args(1, 2)); }
early();
function early() { print("early"); }
main();`;
    const after = inline(code);
    expect(after.inlined).toEqual(["main"]);
    expect(run(after.code)).toEqual(run(code));
  });

  it("leaves a body returning from inside its own loop when the value is needed", () => {
    const code = `function find(a) { for (let i = 0; i < a.length; i++) if (a[i] > 1) return i; return -1; }
function main() { const at = find([0, 5]); print(at); }
main();`;
    const after = inline(code);
    expect(after.inlined).not.toContain("find");
    expect(run(after.code)).toEqual(run(code));
  });

  it("carries the source map: inlined code still points at its original line", () => {
    const code = [
      "function helper(a) {",
      "  print(a + 1);", // line 2
      "}",
      "function main() { helper(2); }",
      "main();",
    ].join("\n");
    const map = JSON.stringify({
      version: 3,
      sources: ["in.js"],
      names: [],
      // Identity mapping, one segment per line.
      mappings: "AAAA;AACA;AACA;AACA;AACA",
    });
    const r = inlineSingleCalls(code, map);
    expect(r.inlined).toContain("helper");
    const lines = r.code.split("\n");
    const line = lines.findIndex((l) => l.includes("print("));
    const pos = originalPositionFor(new TraceMap(r.map), { line: line + 1, column: lines[line].indexOf("print(") });
    expect(pos.source).toBe("in.js");
    expect(pos.line).toBe(2);
  });
});

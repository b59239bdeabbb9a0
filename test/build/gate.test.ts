import * as fs from "fs";
import * as path from "path";
import { loadAllBoards, loadBoard } from "../../host-tools/src/boards/load";
import { bundleFirmware } from "../../host-tools/src/build/build";
import { GATE_RULES, GateRuleId, checkEspruinoDialect, formatViolation } from "../../host-tools/src/build/gate";
import { ROOT } from "../../host-tools/src/build/paths";

const FIXTURES = path.join(ROOT, "test", "fixtures", "gate");
const rulesOf = (code: string) => checkEspruinoDialect(code).map((v) => v.rule);

/** Every construct shared/ESPRUINO.md lists as unsupported, as the gate must see it in a bundle. */
const FIRES: [GateRuleId, string][] = [
  ["syntax", "var x = ;"],
  ["syntax", 'import x from "y";'],
  ["destructuring", "var { a } = o;"],
  ["destructuring", "var [a, b] = list;"],
  ["destructuring", "({ a } = o);"],
  ["destructuring", "function f({ a }) {}"],
  ["destructuring", "for (const [k, v] of pairs) print(k, v);"],
  ["default-parameter", "function f(a = 1) {}"],
  ["default-parameter", "var f = (a, b = 2) => a + b;"],
  ["rest-parameter", "function f(...args) {}"],
  ["rest-parameter", "var f = (...args) => args;"],
  ["spread", "f(...args);"],
  ["spread", "new F(...args);"],
  ["spread", "var a = [...b];"],
  ["spread", "var a = { ...b };"],
  ["computed-key", "var o = { [k]: 1 };"],
  ["computed-key", "class A { [k]() {} }"],
  ["optional-chaining", "a?.b;"],
  ["optional-chaining", "f?.();"],
  ["exponent", "a ** 2;"],
  ["exponent", "a **= 2;"],
  ["async", "async function f() {}"],
  ["async", "var f = async () => 1;"],
  ["generator", "function* g() { yield 1; }"],
  ["label", "outer: for (;;) break outer;"],
  ["new-target", "function F() { return new.target; }"],
  ["class-field", "class A { x = 1; }"],
  ["class-field", "class A { static x = 1; }"],
  ["class-field", "class A { static { init(); } }"],
  ["class-field", "class A { #p() {} }"],
  ["missing-builtin", "new Map();"],
  ["missing-builtin", "var s = new Set([1]);"],
  ["missing-builtin", "new WeakMap();"],
  ["missing-builtin", "new WeakSet();"],
  ["missing-builtin", 'Symbol("x");'],
  ["missing-builtin", "Array.from(x);"],
  ["missing-builtin", "Math.imul(a, b);"],
  ["missing-builtin", "Math.trunc(x);"],
  ["missing-builtin", "Number.isInteger(x);"],
  ["missing-builtin", "Object.freeze(o);"],
  ["missing-builtin", 'Object["freeze"](o);'],
  ["missing-builtin", "list.lastIndexOf(3);"],
  ["missing-builtin", "p.then(f).finally(g);"],
  ["missing-builtin", "module.exports = {};"],
  ["use-before-declaration", "f(); function f() {}"],
  ["use-before-declaration", "var table = { run: f }; function f() {}"],
  ["use-before-declaration", "function a() { return b(); } a(); function b() {}"],
  ["use-before-declaration", "class C { constructor() { h(); } } new C(); function h() {}"],
  ["use-before-declaration", "(function () { g(); function g() {} })();"],
  ["use-before-declaration", "function outer() { inner(); function inner() {} } outer();"],
  ["loop-closure", "for (let i = 0; i < 3; i++) setTimeout(function () { print(i); }, 10);"],
  ["loop-closure", "for (const x of xs) later(() => x);"],
  ["loop-closure", "for (const k in o) handlers[k] = function () { return k; };"],
  ["loop-closure", "for (let i = 0; i < 3; i++) [1].map(function () { return function () { return i; }; });"],
  ["const-length", "const list = [1, 2]; list.length = 0;"],
  ["shadows-global", "function g() {} g();"],
  ["shadows-global", "var E = 1, x = 2;"],
  ["shadows-global", "let D0 = 3;"],
];

/** Valid code the gate must accept: the supported dialect, and look-alikes of each rule. */
const CLEAN: [string, string][] = [
  ["let/const, arrows, template literals", "const a = 1; let b = (x) => `${x}${a}`; b(2);"],
  [
    "classes with extends, super, static methods and getters",
    "class A { static of() { return new A(); } get v() { return 1; } } class B extends A { constructor() { super(); } }",
  ],
  ["for-of over an array", "for (const x of [1, 2]) print(x);"],
  ["nullish coalescing and optional catch binding", "var a = b ?? 1; try { f(); } catch { }"],
  ["a local named like a missing global", "function f(Map) { return new Map(); } var Set = 1; print(Set);"],
  ["Math.pow and Array.isArray", "Math.pow(2, 3); Array.isArray(x); Object.keys(o);"],
  ["lastIndex is not lastIndexOf", "re.lastIndex = 0; list.indexOf(1);"],
  ["function declared before use", "function f() {} f();"],
  ["function used only from a later callback", "setTimeout(function () { h(); }, 1); function h() {}"],
  ["function used from a function called after the declaration", "function a() { return b(); } function b() {} a();"],
  ["function expression in a variable", "var q = function () { return later(); }; function later() {}"],
  ["recursion", "function fact(n) { return n < 2 ? 1 : n * fact(n - 1); } fact(5);"],
  [
    "loop with var and a helper closure",
    "function bind(x) { return () => x; } for (var i = 0; i < 3; i++) fns.push(bind(i));",
  ],
  [
    "loop let used directly and by forEach",
    "for (let i = 0; i < 3; i++) { print(i); [1].forEach(function (v) { print(v + i); }); }",
  ],
  ["let declared in the loop body", "for (let i = 0; i < 3; i++) { const j = i; print(j); }"],
  [
    "closure in a loop not capturing the loop variable",
    "for (let i = 0; i < 3; i++) fns.push(function () { return 1; });",
  ],
  [
    "Espruino globals used, and shadowed only inside a function",
    "E.getTemperature(); function f(g) { var D0 = g; return D0; }",
  ],
  ["Espruino built-in modules", 'var S = require("Storage"); S.write("a", "b");'],
  [
    "length of a let or var array, or read from a const",
    "let a = [1]; a.length = 0; var b = []; b.length = 0; const c = []; print(c.length);",
  ],
];

describe("Espruino dialect gate", () => {
  test.each(FIRES)("%s fires on %s", (rule, code) => {
    expect(rulesOf(code)).toContain(rule);
  });

  test("every rule has a firing fixture", () => {
    const covered = new Set(FIRES.map(([rule]) => rule));
    for (const rule of Object.keys(GATE_RULES)) expect(covered).toContain(rule);
  });

  test.each(CLEAN)("accepts %s", (_what, code) => {
    expect(checkEspruinoDialect(code).map((v) => formatViolation(v))).toEqual([]);
  });

  const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith(".js"));
  test.each(files)("fixture %s reports what its header expects", (file) => {
    const code = fs.readFileSync(path.join(FIXTURES, file), "utf8");
    const header = /^\/\/ expect: (.*)$/m.exec(code);
    if (!header) throw new Error(`${file} has no "// expect:" header`);
    const expected = header[1].trim() === "clean" ? [] : header[1].split(",").map((s) => s.trim());
    expect(rulesOf(code).sort()).toEqual(expected.sort());
  });

  test("reports bundle positions as 1-based line and column", () => {
    const [v] = checkEspruinoDialect("var ok = 1;\nvar m = new Map();");
    expect(v).toMatchObject({ rule: "missing-builtin", line: 2, column: 13 });
    expect(formatViolation(v)).toBe(
      "bundle:2:13: [missing-builtin] Map does not exist on Espruino: use a plain object keyed by string, or parallel typed arrays",
    );
  });

  test("a transitive use is reported at the call that runs it", () => {
    const code = "function a() { return b(); }\na();\nfunction b() {}";
    const [v] = checkEspruinoDialect(code);
    expect(v).toMatchObject({ rule: "use-before-declaration", line: 2, column: 1 });
    expect(v.message).toContain("through a()");
  });

  test("direct uses are still checked when following calls hits its budget", () => {
    const body = Array.from({ length: 2000 }, (_, i) => `x${i % 10} = ${i};`).join(" ");
    const calls = Array.from({ length: 1500 }, () => "heavy();").join("\n");
    const code = `function heavy() { ${body} }\n${calls}\nlate();\nfunction late() {}`;
    const violations = checkEspruinoDialect(code);
    expect(violations.map((v) => [v.rule, v.line])).toEqual([["use-before-declaration", 1502]]);
  });

  test("names the TypeScript source position of a violation through the source map", async () => {
    const entry = path.join(FIXTURES, "violations.ts");
    const outfile = path.join(ROOT, "dist", "gate-fixture", "tracelet.js");
    const bundle = await bundleFirmware(loadBoard("puckjs"), { entry, outfile });
    const violations = checkEspruinoDialect(bundle.code, {
      sourceMap: bundle.map,
      sourceMapFile: outfile + ".map",
      root: ROOT,
    });

    // Each `// MARK:<rule>:<text>` comment: the violation is at <text> on that line.
    const lines = fs.readFileSync(entry, "utf8").split("\n");
    const expected = lines.flatMap((line, i) => {
      const m = /\/\/ MARK:([a-z-]+):(.*)$/.exec(line);
      return m
        ? [
            {
              rule: m[1],
              source: { file: "test/fixtures/gate/violations.ts", line: i + 1, column: line.indexOf(m[2]) + 1 },
            },
          ]
        : [];
    });
    expect(expected).toHaveLength(4);
    expect(
      violations.map((v) => ({
        rule: v.rule,
        source: { file: v.source?.file, line: v.source?.line, column: v.source?.column },
      })),
    ).toEqual(expected);
    // Messages use the original names, not the minified ones.
    expect(violations.find((v) => v.rule === "use-before-declaration")?.message).toContain("`start`");
    expect(violations.find((v) => v.rule === "loop-closure")?.message).toContain("`i`");
  });

  describe("accepts the real firmware bundle of every board", () => {
    const boards = loadAllBoards();
    test.each(boards.flatMap((b) => [[b.id, false] as const, [b.id, true] as const]))(
      "%s (dev: %s)",
      async (id, dev) => {
        const outfile = path.join(ROOT, "dist", id, "tracelet.js");
        const bundle = await bundleFirmware(loadBoard(id), { dev, outfile });
        const violations = checkEspruinoDialect(bundle.code, {
          sourceMap: bundle.map,
          sourceMapFile: outfile + ".map",
          root: ROOT,
        });
        expect(violations.map((v) => formatViolation(v))).toEqual([]);
      },
    );
  });
});

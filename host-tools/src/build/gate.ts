import { ESPRUINO_SHORT_GLOBALS } from "./esbuild-options";
import * as acorn from "acorn";
import { Binding, Reference, Scope, ScopeAnalysis, analyzeScopes, childNodes, isFunctionNode } from "./scope";
import { SourceLocator, SourcePosition, sourceLocator } from "./source-map";

/**
 * The Espruino dialect gate: parses a built bundle and rejects what the Espruino interpreter cannot run
 * (shared/ESPRUINO.md). esbuild lowers some syntax and refuses some; this catches everything else, including the
 * two traps that are valid JavaScript but behave differently on Espruino:
 *
 * - `use-before-declaration`: Espruino does not hoist function declarations. The gate follows the straight-line
 *   execution of the program in source order. A reference to a function declared with `function f() {}` is
 *   rejected when it is evaluated before that declaration statement is reached in the current run of its enclosing
 *   scope. Code inside nested functions is not part of that flow (it runs later), except functions that run at
 *   once: immediately invoked functions, and functions (or class constructors) called by name during the flow,
 *   whose bodies are followed in turn, so `function a() { b() } a(); function b() {}` is rejected at the call `a()`.
 *   Calls through object properties, callbacks and timers are not followed.
 * - `loop-closure`: Espruino keeps one binding for a `let`/`const` declared in a `for`, `for-in` or `for-of` head,
 *   shared by all iterations. A function or arrow created inside the loop that refers to such a variable is
 *   rejected, unless it is passed straight to a synchronous array method (forEach, map, filter, some, every, find,
 *   findIndex, reduce, reduceRight, sort), which calls it before the iteration ends.
 */

export const GATE_RULES = {
  syntax: "the bundle does not parse as an ES script",
  destructuring: "destructuring patterns",
  "default-parameter": "default parameter values",
  "rest-parameter": "rest parameters",
  spread: "spread in arrays, calls and objects",
  "computed-key": "computed object or class keys",
  "optional-chaining": "optional chaining (?.)",
  exponent: "the ** and **= operators",
  async: "async functions and await",
  generator: "generators",
  label: "labelled statements",
  "new-target": "new.target",
  "class-field": "class fields, static blocks and private (#) members",
  "missing-builtin": "built-ins Espruino lacks (Map, Set, Symbol, Array.from, Math.imul, ...)",
  "use-before-declaration": "a function used before its declaration is reached (no hoisting)",
  "loop-closure": "a closure capturing a for-loop let/const (one binding for all iterations)",
  "const-length": "assigning .length of a const array (Espruino throws 'Assignment to a constant')",
  "shadows-global": "a top-level declaration named like an Espruino global (E, g, fs, D0, ...): it would replace it",
} as const;

export type GateRuleId = keyof typeof GATE_RULES;

export interface GateViolation {
  rule: GateRuleId;
  message: string;
  /** Position in the bundle: 1-based line and column. */
  line: number;
  column: number;
  /** Original (TypeScript) position through the source map, when there is one. */
  source?: SourcePosition;
}

export interface GateOptions {
  /** The bundle's source map (JSON text or object), to report original positions. */
  sourceMap?: string | object;
  /** Absolute path of the source map file: resolves the map's relative source paths. */
  sourceMapFile?: string;
  /** Report source paths relative to this directory (the project root). */
  root?: string;
}

/** Globals Espruino does not have. */
const MISSING_GLOBALS: Record<string, string> = {
  Map: "use a plain object keyed by string, or parallel typed arrays",
  Set: "use a plain object keyed by string",
  WeakMap: "use a property on the object instead (esbuild emits WeakMap for #private class members)",
  WeakSet: "use a property on the object instead (esbuild emits WeakSet for #private class methods)",
  Symbol: "use a string key",
  // A bundle runs as a plain script: CommonJS wrappers appear when the entry file exports something.
  module: "the bundle is a plain script, not a module: the firmware entry file must not export anything",
  exports: "the bundle is a plain script, not a module: the firmware entry file must not export anything",
};

/** Static members of built-in objects Espruino does not have. */
const MISSING_STATICS: Record<string, Record<string, string>> = {
  Array: { from: "build the array with a for loop" },
  Math: {
    imul: "split into 16-bit halves: ((a & 0xffff) * b + (((a >>> 16) * b) << 16)) | 0",
    trunc: "use x < 0 ? Math.ceil(x) : Math.floor(x)",
  },
  Number: { isInteger: 'use typeof x === "number" && Math.floor(x) === x' },
  Object: { freeze: "drop the call (Espruino cannot freeze objects)" },
};

/** Methods Espruino lacks; the gate cannot know the receiver's type, so every call by that name is rejected. */
const MISSING_METHODS: Record<string, string> = {
  lastIndexOf: "Array.prototype.lastIndexOf is missing: search backwards with a for loop",
  finally: "Promise.prototype.finally is missing: pass the same handler to then(onDone, onDone)",
};

/** Array methods that call their callback before returning: closures passed to them may use loop variables. */
const SYNC_CALLBACK_METHODS = new Set([
  "forEach",
  "map",
  "filter",
  "some",
  "every",
  "find",
  "findIndex",
  "reduce",
  "reduceRight",
  "sort",
]);

/**
 * Upper bound on nodes visited inside followed calls for `use-before-declaration` (keeps the gate fast on any
 * bundle; the firmware's own flow follows a few dozen). Direct uses in each scope's flow are always checked.
 */
const FLOW_BUDGET = 200_000;
const MAX_CALL_DEPTH = 64;

/** Checks a bundle against the Espruino dialect; an empty list means it passes. */
export function checkEspruinoDialect(code: string, options: GateOptions = {}): GateViolation[] {
  const locate: SourceLocator | undefined = options.sourceMap
    ? sourceLocator(options.sourceMap, options.sourceMapFile, options.root)
    : undefined;
  const found = new Map<string, GateViolation>();
  const report = (rule: GateRuleId, node: acorn.Node, message: string): void => {
    const key = rule + "@" + node.start;
    if (found.has(key)) return;
    const loc = node.loc as acorn.SourceLocation;
    const v: GateViolation = { rule, message, line: loc.start.line, column: loc.start.column + 1 };
    const source = locate?.(loc.start.line, loc.start.column);
    if (source) v.source = source;
    found.set(key, v);
  };

  let program: acorn.Program;
  try {
    program = acorn.parse(code, { ecmaVersion: "latest", sourceType: "script", locations: true });
  } catch (err) {
    const e = err as SyntaxError & { loc?: { line: number; column: number } };
    const line = e.loc?.line ?? 1;
    const column = e.loc?.column ?? 0;
    const v: GateViolation = { rule: "syntax", message: e.message, line, column: column + 1 };
    const source = locate?.(line, column);
    if (source) v.source = source;
    return [v];
  }

  /** Where a node is, for messages: the source position when the map has one, else the bundle position. */
  const where = (node: acorn.Node): string => {
    const start = (node.loc as acorn.SourceLocation).start;
    const source = locate?.(start.line, start.column);
    return source ? `${source.file}:${source.line}:${source.column}` : `bundle ${start.line}:${start.column + 1}`;
  };

  /** An identifier's name in the original source (the bundle's names are minified). */
  const nameOf = (id: acorn.Identifier): string => {
    const start = (id.loc as acorn.SourceLocation).start;
    return locate?.(start.line, start.column)?.name ?? id.name;
  };

  const analysis = analyzeScopes(program);
  const parents = new Map<acorn.Node, acorn.Node>();
  const ctx: Context = { report, where, nameOf };
  checkSyntaxAndBuiltins(program, analysis, parents, ctx);
  checkLoopClosures(analysis, parents, ctx);
  checkUseBeforeDeclaration(program, analysis, ctx);
  checkTopLevelNames(program, ctx);
  return [...found.values()].sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * The bundle's top-level declarations are Espruino root variables (the bundle is not wrapped in a function): one
 * named like a built-in global would replace it for the whole interpreter.
 */
function checkTopLevelNames(program: acorn.Program, ctx: Context): void {
  const reserved = new Set(ESPRUINO_SHORT_GLOBALS);
  const check = (id: acorn.Identifier | null | undefined): void => {
    if (id && reserved.has(id.name))
      ctx.report("shadows-global", id, `top-level \`${id.name}\` would replace Espruino's global of that name`);
  };
  for (const st of program.body) {
    if (st.type === "FunctionDeclaration" || st.type === "ClassDeclaration") check(st.id);
    else if (st.type === "VariableDeclaration")
      for (const d of st.declarations) if (d.id.type === "Identifier") check(d.id);
  }
}

/** One line per violation: `firmware/src/x.ts:3:5: [rule] message (bundle 2:1234)`. */
export function formatViolation(v: GateViolation, bundleName = "bundle"): string {
  const where = v.source
    ? `${v.source.file}:${v.source.line}:${v.source.column}`
    : `${bundleName}:${v.line}:${v.column}`;
  const bundle = v.source ? ` (${bundleName}:${v.line}:${v.column})` : "";
  return `${where}: [${v.rule}] ${v.message}${bundle}`;
}

type Report = (rule: GateRuleId, node: acorn.Node, message: string) => void;

interface Context {
  report: Report;
  /** A node's position for messages (source position when known). */
  where: (node: acorn.Node) => string;
  nameOf: (id: acorn.Identifier) => string;
}

function memberName(m: acorn.MemberExpression): string | undefined {
  if (!m.computed && m.property.type === "Identifier") return m.property.name;
  if (m.computed && m.property.type === "Literal" && typeof m.property.value === "string") return m.property.value;
  return undefined;
}

function isGlobal(analysis: ScopeAnalysis, node: acorn.Node, name: string): boolean {
  if (node.type !== "Identifier" || (node as acorn.Identifier).name !== name) return false;
  const ref = analysis.referenceOf.get(node as acorn.Identifier);
  return ref !== undefined && ref.binding === undefined;
}

function checkSyntaxAndBuiltins(
  program: acorn.Program,
  analysis: ScopeAnalysis,
  parents: Map<acorn.Node, acorn.Node>,
  { report }: Context,
): void {
  const walk = (node: acorn.Node, parent: acorn.Node | undefined): void => {
    if (parent) parents.set(node, parent);
    const n = node as acorn.AnyNode;
    switch (n.type) {
      case "ObjectPattern":
      case "ArrayPattern":
        // Report the outermost pattern only.
        if (
          !parent ||
          (parent.type !== "ObjectPattern" && parent.type !== "ArrayPattern" && parent.type !== "Property")
        )
          report("destructuring", n, "destructuring is not supported by Espruino: read the fields one by one");
        break;
      case "AssignmentPattern":
        if (parent && isFunctionNode(parent))
          report("default-parameter", n, "default parameter values are not supported: test for undefined in the body");
        break;
      case "RestElement":
        if (parent && isFunctionNode(parent))
          report("rest-parameter", n, "rest parameters are not supported: use `arguments` or pass an array");
        break;
      case "SpreadElement": {
        const what =
          parent?.type === "ObjectExpression"
            ? "object spread {...x} is not supported: copy the fields (Object.assign)"
            : parent?.type === "ArrayExpression"
              ? "array spread [...x] is not supported: use concat or a loop"
              : "spread arguments f(...x) are not supported: use f.apply(undefined, x)";
        report("spread", n, what);
        break;
      }
      case "Property":
        if (n.computed && parent?.type === "ObjectExpression")
          report("computed-key", n, "computed object keys {[k]: v} are not supported: assign o[k] = v afterwards");
        break;
      case "MethodDefinition":
        if (n.computed) report("computed-key", n, "computed class member names are not supported");
        break;
      case "PropertyDefinition":
        report("class-field", n, "class fields are not supported: assign them in the constructor");
        break;
      case "StaticBlock":
        report("class-field", n, "class static blocks are not supported");
        break;
      case "PrivateIdentifier":
        report("class-field", n, "private class members (#name) are not supported");
        break;
      case "ChainExpression":
        report("optional-chaining", n, "optional chaining ?. is not supported: test for undefined explicitly");
        break;
      case "BinaryExpression":
        if (n.operator === "**") report("exponent", n, "the ** operator is not supported: use Math.pow");
        break;
      case "AssignmentExpression": {
        if (n.operator === "**=") report("exponent", n, "the **= operator is not supported: use Math.pow");
        // Found by the real interpreter: `c.length = 0` on a const binding throws there (V8 allows it).
        const l = n.left;
        if (l.type === "MemberExpression" && memberName(l) === "length" && l.object.type === "Identifier") {
          const b = analysis.referenceOf.get(l.object)?.binding;
          if (b && b.kind === "const")
            report("const-length", n, "assigning .length of a const throws on Espruino: use splice(0, x.length)");
        }
        break;
      }
      case "FunctionDeclaration":
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        if (n.async) report("async", n, "async functions are not supported: use Promise.then");
        if (n.generator) report("generator", n, "generator functions are not supported");
        break;
      case "AwaitExpression":
        report("async", n, "await is not supported: use Promise.then");
        break;
      case "ForOfStatement":
        if (n.await) report("async", n, "for await is not supported");
        break;
      case "YieldExpression":
        report("generator", n, "yield is not supported (no generators)");
        break;
      case "LabeledStatement":
        report("label", n, "labelled statements are not supported: use a flag or a function with return");
        break;
      case "MetaProperty":
        if (n.meta.name === "new") report("new-target", n, "new.target is not supported");
        break;
      case "Identifier": {
        const hint = MISSING_GLOBALS[n.name];
        if (hint && Object.prototype.hasOwnProperty.call(MISSING_GLOBALS, n.name) && isGlobal(analysis, n, n.name))
          report("missing-builtin", n, `${n.name} does not exist on Espruino: ${hint}`);
        break;
      }
      case "MemberExpression": {
        const name = memberName(n);
        if (name !== undefined && n.object.type === "Identifier") {
          const statics = Object.prototype.hasOwnProperty.call(MISSING_STATICS, n.object.name)
            ? MISSING_STATICS[n.object.name]
            : undefined;
          if (
            statics &&
            Object.prototype.hasOwnProperty.call(statics, name) &&
            isGlobal(analysis, n.object, n.object.name)
          )
            report("missing-builtin", n, `${n.object.name}.${name} does not exist on Espruino: ${statics[name]}`);
        }
        break;
      }
      case "CallExpression":
        if (n.callee.type === "MemberExpression") {
          const name = memberName(n.callee);
          if (name !== undefined && Object.prototype.hasOwnProperty.call(MISSING_METHODS, name))
            report("missing-builtin", n.callee, `.${name}() is not available on Espruino: ${MISSING_METHODS[name]}`);
        }
        break;
    }
    for (const c of childNodes(node)) walk(c, node);
  };
  walk(program, undefined);
}

/** Function scopes between a reference and the scope declaring its variable. */
function functionsCrossed(ref: Reference, until: Scope): acorn.Node[] {
  const out: acorn.Node[] = [];
  for (let s: Scope | undefined = ref.scope; s && s !== until; s = s.parent) {
    if (s.kind === "function") out.push(s.node);
  }
  return out;
}

function isSyncArrayCallback(fn: acorn.Node, parents: Map<acorn.Node, acorn.Node>): boolean {
  const call = parents.get(fn);
  if (!call || call.type !== "CallExpression") return false;
  const c = call as acorn.CallExpression;
  if (!c.arguments.includes(fn as acorn.Expression) || c.callee.type !== "MemberExpression") return false;
  const name = memberName(c.callee);
  return name !== undefined && SYNC_CALLBACK_METHODS.has(name);
}

function checkLoopClosures(
  analysis: ScopeAnalysis,
  parents: Map<acorn.Node, acorn.Node>,
  { report, nameOf }: Context,
): void {
  const seen = new Set<string>();
  for (const ref of analysis.references) {
    const b = ref.binding;
    if (!b || b.scope.kind !== "for" || (b.kind !== "let" && b.kind !== "const")) continue;
    const crossed = functionsCrossed(ref, b.scope);
    const escaping = crossed.filter((fn) => !(isFunctionNode(fn) && isSyncArrayCallback(fn, parents)));
    if (escaping.length === 0) continue;
    const fn = escaping[escaping.length - 1];
    const key = fn.start + ":" + b.name;
    if (seen.has(key)) continue;
    seen.add(key);
    report(
      "loop-closure",
      ref.id,
      `a closure created in a for loop captures the loop variable \`${nameOf(b.id)}\`: Espruino has one binding for all ` +
        "iterations, so the closure sees the last value; pass the value to a helper function that creates the closure",
    );
  }
}

/** `(function () {...})()`, `(() => ...)()` or `(function () {...}).call(this)`. */
function isImmediatelyInvoked(call: acorn.Node): boolean {
  if (call.type !== "CallExpression") return false;
  const callee = (call as acorn.CallExpression).callee;
  if (isFunctionNode(callee)) return true;
  return callee.type === "MemberExpression" && isFunctionNode(callee.object);
}

interface Activation {
  /** The program or function scope this activation runs. */
  scope: Scope;
  fn: acorn.Node;
  /** Start of the node being evaluated in this activation (the call site while a callee runs). */
  pos: number;
  /** The call that is running a callee from this activation, if any. */
  call?: acorn.Node;
  calleeName?: string;
  /** Runs because a call by name was followed (counts against the budget); IIFEs are part of the flow itself. */
  followed: boolean;
}

function checkUseBeforeDeclaration(program: acorn.Program, analysis: ScopeAnalysis, ctx: Context): void {
  const { report, where, nameOf } = ctx;
  const stack: Activation[] = [];
  let budget = FLOW_BUDGET;

  const declarationOf = (b: Binding): acorn.Node | undefined =>
    b.kind === "function" && b.declaration.type === "FunctionDeclaration" ? b.declaration : undefined;

  /** True (and reported) when `id` refers to a function declaration its scope has not reached yet. */
  const checkReference = (id: acorn.Identifier): boolean => {
    const ref = analysis.referenceOf.get(id);
    const decl = ref?.binding && declarationOf(ref.binding);
    if (!ref || !ref.binding || !decl) return false;
    const owner = ref.binding.scope.varScope;
    for (let i = stack.length - 1; i >= 0; i--) {
      const act = stack[i];
      if (act.scope !== owner) continue;
      if (act.pos >= decl.start) return false;
      if (i === stack.length - 1) {
        report(
          "use-before-declaration",
          id,
          `\`${nameOf(id)}\` is used before its function declaration (${where(decl)}) in the same scope: ` +
            "Espruino does not hoist functions; move the declaration above its first use",
        );
      } else {
        const chain = stack
          .slice(i)
          .map((a) => a.calleeName)
          .filter((n): n is string => n !== undefined);
        report(
          "use-before-declaration",
          act.call ?? id,
          `this call runs \`${nameOf(id)}\` (through ${chain.join(" -> ")}) before its function declaration ` +
            `(${where(decl)}) is reached: Espruino does not hoist functions; move the declaration up`,
        );
      }
      return true;
    }
    return false;
  };

  /** The function a call runs at once, if the gate can tell: an IIFE, or a function/class called by name. */
  const calleeOf = (call: acorn.CallExpression | acorn.NewExpression): { fn: acorn.Node; name: string } | undefined => {
    let callee = call.callee as acorn.Node;
    if (
      callee.type === "MemberExpression" &&
      ["call", "apply"].includes(memberName(callee as acorn.MemberExpression) ?? "") &&
      isFunctionNode((callee as acorn.MemberExpression).object)
    ) {
      callee = (callee as acorn.MemberExpression).object;
    }
    if (callee.type === "FunctionExpression" || callee.type === "ArrowFunctionExpression")
      return { fn: callee, name: "(immediately invoked function)" };
    if (callee.type !== "Identifier") return undefined;
    const name = nameOf(callee as acorn.Identifier);
    const b = analysis.referenceOf.get(callee as acorn.Identifier)?.binding;
    if (!b) return undefined;
    let target: acorn.Node | undefined;
    if (b.kind === "function") target = b.declaration;
    else if (b.kind === "class") target = b.declaration;
    else if (
      (b.kind === "var" || b.kind === "let" || b.kind === "const") &&
      b.declaration.type === "VariableDeclaration"
    ) {
      const d = (b.declaration as acorn.VariableDeclaration).declarations.find((x) => x.id === b.id);
      if (d?.init && (isFunctionNode(d.init) || d.init.type === "ClassExpression")) target = d.init;
    }
    if (!target) return undefined;
    if (target.type === "ClassDeclaration" || target.type === "ClassExpression") {
      if (call.type !== "NewExpression") return undefined;
      const ctor = (target as acorn.Class).body.body.find(
        (m): m is acorn.MethodDefinition => m.type === "MethodDefinition" && m.kind === "constructor",
      );
      return ctor ? { fn: ctor.value, name: "new " + name } : undefined;
    }
    return { fn: target, name: name + "()" };
  };

  const run = (fn: acorn.Node, act: Activation, call: acorn.Node, name: string): void => {
    const followed = act.followed || !isImmediatelyInvoked(call);
    if ((followed && budget <= 0) || stack.length > MAX_CALL_DEPTH || stack.some((a) => a.fn === fn)) return;
    const scope = analysis.scopeOf.get(fn);
    if (!scope) return;
    act.call = call;
    act.calleeName = name;
    const inner: Activation = { scope, fn, pos: fn.start, followed };
    stack.push(inner);
    const f = fn as acorn.Function;
    if (f.body.type === "BlockStatement") for (const st of f.body.body) flow(st, inner);
    else flow(f.body, inner);
    stack.pop();
    act.call = undefined;
    act.calleeName = undefined;
  };

  const flow = (node: acorn.Node, act: Activation): void => {
    if (act.followed) budget--;
    if (node.start > act.pos) act.pos = node.start;
    const n = node as acorn.AnyNode;
    switch (n.type) {
      case "Identifier":
        checkReference(n);
        return;
      case "FunctionDeclaration":
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        return;
      case "ClassDeclaration":
      case "ClassExpression":
        if (n.superClass) flow(n.superClass, act);
        for (const m of n.body.body) {
          if (m.type === "StaticBlock") continue;
          if (m.computed) flow(m.key, act);
          if (m.type === "PropertyDefinition" && m.static && m.value) flow(m.value, act);
        }
        return;
      case "CallExpression":
      case "NewExpression": {
        flow(n.callee, act);
        for (const a of n.arguments) flow(a, act);
        const target = calleeOf(n);
        // A callee that is itself used before its declaration would throw: its body never runs.
        const notDeclaredYet = n.callee.type === "Identifier" && calleeNotDeclaredYet(n.callee);
        if (target && !notDeclaredYet) run(target.fn, act, n, target.name);
        return;
      }
      case "MemberExpression":
        flow(n.object, act);
        if (n.computed) flow(n.property, act);
        return;
      case "Property":
        if (n.computed) flow(n.key, act);
        flow(n.value, act);
        return;
      case "LabeledStatement":
        flow(n.body, act);
        return;
      case "BreakStatement":
      case "ContinueStatement":
      case "MetaProperty":
        return;
      default:
        for (const c of childNodes(n)) flow(c, act);
    }
  };

  /** Whether a reference points to a function declaration its scope has not reached yet. */
  const calleeNotDeclaredYet = (id: acorn.Identifier): boolean => {
    const ref = analysis.referenceOf.get(id);
    const decl = ref?.binding && declarationOf(ref.binding);
    if (!ref?.binding || !decl) return false;
    const owner = ref.binding.scope.varScope;
    for (let i = stack.length - 1; i >= 0; i--) if (stack[i].scope === owner) return stack[i].pos < decl.start;
    return false;
  };

  const top: Activation = { scope: analysis.program, fn: program, pos: 0, followed: false };
  stack.push(top);
  for (const st of program.body) flow(st, top);
}

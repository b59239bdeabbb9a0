import remapping from "@ampproject/remapping";
import * as acorn from "acorn";
import MagicString from "magic-string";
import { Binding, Reference, Scope, analyzeScopes, childNodes, isFunctionNode } from "./scope";

/**
 * Inlines the bundle's single-call functions where they are called, before the bundle is minified.
 *
 * Why: in Espruino every function costs RAM for as long as it exists, whatever its size: the function, its code's
 * name and reference, its name in the root scope and one variable per parameter (4 + parameters, measured in the
 * real interpreter), while the code itself stays in flash. About half the firmware's functions are module entry
 * points and helpers called from one place; written into their caller they cost nothing between calls, and their
 * parameters become block-scoped `let`s that exist only while the code runs. The sources keep their modules (the
 * kiosk and the simulator share them); only the flashed bundle is flattened.
 *
 * A top-level function declaration called from exactly one place (and referenced nowhere else) is inlined when:
 * - the call is a statement of its own (`f(a);`, `let x = f(a);`, `x = f(a);`, `return f(a);`), the body becoming
 *   a block there (`{ let p = a; ...body }`), its returns turned into assignments to the result; a body that returns
 *   early is wrapped in `do { ... } while (0)` with each `return v` turned into `r = v; break` (a return inside one
 *   of its own loops, switches or try blocks keeps it out); or
 * - its body is a single `return E` and the call is anywhere in an expression: the call becomes `(p = a, E)`, its
 *   parameters declared at the start of the caller.
 * Every name the body declares is renamed to a name used nowhere in the bundle; a body whose free names would
 * resolve to other bindings at the call site, that uses `this` or `arguments`, declares `var`s or functions, or is
 * called with more arguments than parameters is left as it is. Passes repeat until nothing is left to inline (a
 * helper inlined into an entry point goes with it into the entry point's caller). The source map is carried through.
 */

export interface InlineResult {
  code: string;
  /** Source map of `code` against the input's sources (the input map composed with this pass's edits). */
  map: string;
  /** The names of the functions inlined, in the order they were. */
  inlined: string[];
}

type AnyNode = acorn.AnyNode;
type Statement = acorn.Statement;

interface Plan {
  fn: acorn.FunctionDeclaration;
  call: acorn.CallExpression;
  /** The regions of the source this plan edits (no two plans of a pass may overlap). */
  regions: [number, number][];
  apply(ms: MagicString): void;
  /** Only moves the call in front of its statement (the function is inlined in a later pass). */
  hoistOnly?: boolean;
}

const MAX_PASSES = 100;

export function inlineSingleCalls(code: string, map: string): InlineResult {
  const maps: string[] = [];
  const inlined: string[] = [];
  let current = code;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const program = acorn.parse(current, { ecmaVersion: 2022, sourceType: "script" });
    {
      // esbuild's syntax minifier joins statements into sequences and conditions: split them back so calls stand
      // alone (repeated until nothing changes: a split exposes the next).
      const ms = new MagicString(current);
      if (splitSequences(current, program, ms)) {
        current = ms.toString();
        maps.unshift(ms.generateMap({ hires: true, source: "bundle.js", includeContent: false }).toString());
        continue;
      }
    }
    const plans = planPass(current, program);
    if (plans.length === 0) break;
    const ms = new MagicString(current);
    for (const p of plans) {
      p.apply(ms);
      if (!p.hoistOnly) inlined.push(p.fn.id.name);
    }
    current = ms.toString();
    maps.unshift(ms.generateMap({ hires: true, source: "bundle.js", includeContent: false }).toString());
  }
  if (maps.length === 0) return { code, map, inlined };
  const composed = remapping([...maps, map], () => null);
  return { code: current, map: composed.toString(), inlined };
}

/**
 * `a(), b();` -> `a(); b();`, `return a(), b;` -> `a(); return b;` and `let a = x, b = y;` -> `let a = x; let b = y;`
 * in statement lists (where esbuild's syntax minifier joined them), so a call to inline stands as a statement.
 */
function splitSequences(code: string, program: acorn.Program, ms: MagicString): boolean {
  let changed = false;
  const plainGaps = (items: acorn.Node[]): boolean =>
    items.every((e, i) => i === 0 || code.slice(items[i - 1].end, e.start).trim() === ",");
  const visitList = (list: acorn.Node[]): void => {
    for (const st of list) {
      const n = st as AnyNode;
      if (n.type === "ExpressionStatement" && n.expression.type === "SequenceExpression") {
        const items = n.expression.expressions;
        if (code.slice(n.start, n.expression.start).trim() === "" && plainGaps(items)) {
          for (let i = 1; i < items.length; i++) put(ms, items[i - 1].end, items[i].start, "; ");
          changed = true;
        }
      } else if (n.type === "ExpressionStatement" && n.expression.type === "LogicalExpression") {
        // `a && b;` -> `if (a) { b; }`, `a || b;` -> `if (!(a)) { b; }` (as written before minifying).
        const e = n.expression;
        const op = e.operator === "&&" ? "" : e.operator === "||" ? "!" : undefined;
        const gap = code.slice(e.left.end, e.right.start);
        const tail = code.slice(e.right.end, n.end);
        if (op !== undefined && code.slice(n.start, e.left.start).trim() === "" && balanced(gap, tail)) {
          put(ms, n.start, e.left.start, `if (${op}(`);
          put(ms, e.left.end, e.right.start, ")) { ");
          put(ms, e.right.end, n.end, "; }");
          changed = true;
        }
      } else if (n.type === "ExpressionStatement" && n.expression.type === "ConditionalExpression") {
        const e = n.expression;
        const g1 = code.slice(e.test.end, e.consequent.start);
        const g2 = code.slice(e.consequent.end, e.alternate.start);
        const tail = code.slice(e.alternate.end, n.end);
        const colon = g2.indexOf(":");
        const g2a = g2.slice(0, colon);
        const g2b = g2.slice(colon + 1);
        if (code.slice(n.start, e.test.start).trim() === "" && balanced(g1, g2a) && balanced(g2b, tail)) {
          put(ms, n.start, e.test.start, "if (");
          put(ms, e.test.end, e.consequent.start, ") { ");
          put(ms, e.consequent.end, e.alternate.start, "; } else { ");
          put(ms, e.alternate.end, n.end, "; }");
          changed = true;
        }
      } else if (n.type === "ReturnStatement" && n.argument && n.argument.type === "SequenceExpression") {
        const items = n.argument.expressions;
        if (code.slice(n.start, n.argument.start).trim() === "return" && plainGaps(items)) {
          put(ms, n.start, items[0].start, "");
          for (let i = 1; i < items.length; i++) {
            put(ms, items[i - 1].end, items[i].start, i === items.length - 1 ? "; return " : "; ");
          }
          changed = true;
        }
      } else if (n.type === "VariableDeclaration" && n.kind !== "var" && n.declarations.length > 1) {
        if (plainGaps(n.declarations)) {
          for (let i = 1; i < n.declarations.length; i++) {
            put(ms, n.declarations[i - 1].end, n.declarations[i].start, `; ${n.kind} `);
          }
          changed = true;
        }
      }
    }
  };
  const visit = (node: acorn.Node): void => {
    const n = node as AnyNode;
    if (n.type === "Program" || n.type === "BlockStatement") visitList(n.body);
    else if (n.type === "SwitchCase") visitList(n.consequent);
    for (const c of childNodes(n)) visit(c);
  };
  visit(program);
  return changed;
}

/** Replaces [start, end) with text, or inserts it at start when the range is empty. */
function put(ms: MagicString, start: number, end: number, text: string): void {
  if (end > start) ms.overwrite(start, end, text);
  else ms.appendLeft(start, text);
}

/** The text around an operand opens as many parentheses before it as it closes after it (and nothing else). */
function balanced(before: string, after: string): boolean {
  const opens = before.replace(/[^(]/g, "").length;
  const closes = after.replace(/[^)]/g, "").length;
  const other = (t: string): string => t.replace(/[()\s;:?]|&&|\|\|/g, "");
  return (
    opens === closes && other(before) === "" && other(after) === "" && !before.includes(")") && !after.includes("(")
  );
}

function planPass(code: string, program: acorn.Program): Plan[] {
  const scopes = analyzeScopes(program);
  const names = new Set<string>();
  for (const r of scopes.references) names.add(r.id.name);
  collectDeclaredNames(scopes.scopeOf, names);
  const fresh = freshNamer(names);

  const refsByBinding = new Map<Binding, Reference[]>();
  for (const r of scopes.references) {
    if (!r.binding) continue;
    let list = refsByBinding.get(r.binding);
    if (!list) refsByBinding.set(r.binding, (list = []));
    list.push(r);
  }
  const parents = parentMap(program);

  const plans: Plan[] = [];
  const taken: [number, number][] = [];
  const overlaps = (rs: [number, number][]): boolean => rs.some(([a, b]) => taken.some(([c, d]) => a < d && c < b));

  for (const st of program.body) {
    if (st.type !== "FunctionDeclaration" || st.async || st.generator) continue;
    const binding = scopes.program.bindings.get(st.id.name);
    if (!binding || binding.declaration !== st) continue;
    const refs = (refsByBinding.get(binding) ?? []).filter((r) => r.id !== st.id);
    if (refs.length !== 1) continue;
    const ref = refs[0];
    const call = parents.get(ref.id);
    if (!call || call.type !== "CallExpression" || call.callee !== ref.id) continue;
    if (call.start >= st.start && call.end <= st.end) continue; // recursion only: dead code, left alone
    // A call the program makes before the declaration is reached relies on hoisting, which Espruino lacks: the
    // dialect gate must still see it.
    if (call.start < st.start && !enclosingFunction(call, parents)) continue;
    const plan = planInline(code, st, call as acorn.CallExpression, ref.scope, scopes, parents, fresh);
    if (!plan || overlaps(plan.regions)) continue;
    taken.push(...plan.regions);
    plans.push(plan);
  }
  return plans;
}

function planInline(
  code: string,
  fn: acorn.FunctionDeclaration,
  call: acorn.CallExpression,
  callScope: Scope,
  scopes: ReturnType<typeof analyzeScopes>,
  parents: Map<acorn.Node, AnyNode>,
  fresh: (base: string) => string,
): Plan | undefined {
  if (!fn.params.every((p) => p.type === "Identifier")) return undefined;
  if (call.arguments.some((a) => a.type === "SpreadElement")) return undefined;
  if (call.arguments.length > fn.params.length) return undefined;
  const body = fn.body.body;
  if (body.length === 0) return undefined;
  const fnScope = scopes.scopeOf.get(fn);
  if (!fnScope) return undefined;

  // What the body contains (outside its nested functions).
  const info = bodyInfo(fn);
  if (info.unsupported) return undefined;

  // Free names must mean the same at the call site.
  for (const r of scopes.references) {
    if (r.id.start < fn.body.start || r.id.end > fn.body.end) continue;
    const b = r.binding;
    if (b && within(b.scope.node, fn)) continue;
    if (resolve(callScope, r.id.name) !== b) return undefined;
  }

  // Names the body declares (its parameters and its blocks' lets, consts and classes): renamed.
  const renames = new Map<Binding, string>();
  const ownScopes = [...scopes.scopeOf.values()].filter((s) => s === fnScope || ownedBy(s, fnScope));
  for (const s of ownScopes) for (const b of s.bindings.values()) renames.set(b, fresh(`${fn.id.name}_${b.name}`));
  const paramNames = (fn.params as acorn.Identifier[]).map((p) => renames.get(fnScope.bindings.get(p.name)!)!);

  const renameEdits = (ms: MagicString): void => {
    for (const [b, name] of renames) {
      for (const r of scopes.references) if (r.binding === b) renameAt(ms, r.id, name, parents);
      // Parameters are declared in the header, which is rewritten whole; the rest where they are declared.
      if (b.kind !== "param") renameAt(ms, b.id, name, parents);
    }
  };

  const stmt = parents.get(call) as AnyNode;
  const single = body.length === 1 && body[0].type === "ReturnStatement" && body[0].argument;
  const form = statementForm(call, stmt, parents);

  const tail = body[body.length - 1];
  // Returns other than a single one at the end: the body needs a way out from the middle.
  const multi = info.returns.length > 0 && !(info.returns.length === 1 && info.returns[0] === tail);
  if (form) {
    if (multi && form.kind !== "return" && info.returnInLoop) return undefined;
    const stmtNode = form.statement;
    return {
      fn,
      call,
      regions: [
        [fn.start, fn.end],
        [stmtNode.start, stmtNode.end],
      ],
      apply(ms) {
        renameEdits(ms);
        const result = form.kind === "assign" && multi ? fresh(`${fn.id.name}_result`) : form.target;
        // Returns: each value goes to the result (or is evaluated for its effects); early ones leave the block.
        for (const ret of info.returns) {
          if (form.kind === "return") continue;
          const set = form.kind === "expression" ? "void " : `${result} = `;
          if (ret.argument) {
            ms.overwrite(ret.start, ret.argument.start, `${multi ? "{ " : ""}${set}(`);
            const end = `)${multi ? "; break; }" : ""}`;
            if (ret.argument.end < ret.end) ms.overwrite(ret.argument.end, ret.end, end + (multi ? "" : ";"));
            else ms.appendLeft(ret.argument.end, end);
          } else if (!multi) {
            ms.overwrite(ret.start, ret.end, form.kind === "expression" ? ";" : `${set}void 0;`);
          } else {
            const plain = form.kind === "expression" || form.kind === "declare";
            ms.overwrite(ret.start, ret.end, plain ? "break;" : `{ ${set}void 0; break; }`);
          }
        }
        // The call statement becomes the block's head: its arguments bound to the parameters.
        let head = form.kind === "declare" ? `let ${form.target}; {` : "{";
        if (form.kind === "assign" && multi) head += ` let ${result};`;
        const extra = paramNames.slice(call.arguments.length);
        const extraDecl = extra.length ? ` let ${extra.join(", ")};` : "";
        const args = call.arguments as acorn.Expression[];
        if (args.length) {
          // One declaration each, so a call among the arguments stands as a statement of its own for the next pass.
          ms.overwrite(stmtNode.start, args[0].start, `${head} let ${paramNames[0]} = `);
          for (let i = 1; i < args.length; i++)
            ms.overwrite(args[i - 1].end, args[i].start, `; let ${paramNames[i]} = `);
          ms.overwrite(args[args.length - 1].end, stmtNode.end, `;${extraDecl}`);
        } else {
          ms.overwrite(stmtNode.start, stmtNode.end, `${head}${extraDecl}`);
        }
        // The function's header and closing brace become the body's wrapping; the body moves to the call.
        const wrap = multi && form.kind !== "return";
        ms.overwrite(fn.start, fn.body.start + 1, wrap ? " do {" : " ");
        let close = wrap ? "} while (0);" : "";
        if (form.kind === "assign" && multi) close += ` ${form.target} = ${result};`;
        if (form.kind === "assign" && info.returns.length === 0) close += ` ${form.target} = void 0;`;
        if (form.kind === "return" && tail.type !== "ReturnStatement") close += " return;";
        ms.overwrite(fn.body.end - 1, fn.end, `${close} }`);
        ms.move(fn.start, fn.end, stmtNode.end);
      },
    };
  }

  if (single) {
    // An expression body inlined into any expression: `(p1 = a1, p2 = a2, E)`.
    const ret = body[0] as acorn.ReturnStatement;
    const expr = ret.argument!;
    if (info.hasFunctions) return undefined;
    const host = enclosingFunction(call, parents);
    if (call.arguments.length > 0 || fn.params.length > 0) {
      if (!host || host.body.type !== "BlockStatement") return undefined;
    }
    return {
      fn,
      call,
      regions: [
        [fn.start, fn.end],
        [call.start, call.end],
        ...(host && host.body.type === "BlockStatement"
          ? ([[host.body.start, host.body.start + 1]] as [number, number][])
          : []),
      ],
      apply(ms) {
        renameEdits(ms);
        const args = call.arguments as acorn.Expression[];
        if (args.length) {
          ms.overwrite(call.start, args[0].start, `(${paramNames[0]} = `);
          for (let i = 1; i < args.length; i++) ms.overwrite(args[i - 1].end, args[i].start, `, ${paramNames[i]} = `);
          ms.overwrite(args[args.length - 1].end, call.end, ", ");
        } else {
          ms.overwrite(call.start, call.end, "(");
        }
        if (paramNames.length && host && host.body.type === "BlockStatement") {
          ms.appendLeft(host.body.start + 1, ` let ${paramNames.join(", ")};`);
        }
        ms.overwrite(fn.start, expr.start, " ");
        ms.overwrite(expr.end, fn.end, ")");
        ms.move(fn.start, fn.end, call.end);
      },
    };
  }

  // A call evaluated first in its statement: `let t = f(a);` before the statement, `t` in its place (inlined as a
  // declaration in the next pass).
  const first = firstEvaluatedStatement(call, parents, scopes);
  if (first && !(multi && info.returnInLoop)) {
    const temp = fresh(`${fn.id.name}_value`);
    const inList = isInStatementList(first, parents);
    return {
      fn,
      call,
      regions: [[first.start, first.end]],
      apply(ms) {
        const decl = `let ${temp} = ${code.slice(call.start, call.end)};`;
        ms.prependLeft(first.start, inList ? `${decl} ` : `{ ${decl} `);
        ms.overwrite(call.start, call.end, temp);
        if (!inList) ms.appendLeft(first.end, " }");
      },
      hoistOnly: true,
    };
  }
  return undefined;
}

/**
 * The statement in which `call` is the first thing evaluated (nothing with effects runs before it), if any: then
 * the call can move in front of the statement. Steps up through left operands, conditions, first elements and
 * the arguments of a call to a declared function after literal arguments only.
 */
function firstEvaluatedStatement(
  call: acorn.CallExpression,
  parents: Map<acorn.Node, AnyNode>,
  scopes: ReturnType<typeof analyzeScopes>,
): Statement | undefined {
  let node: acorn.Node = call;
  for (let p = parents.get(node); p; node = p, p = parents.get(p)) {
    switch (p.type) {
      case "ExpressionStatement":
      case "ReturnStatement":
      case "ThrowStatement":
        return p;
      case "IfStatement":
        return p.test === node ? p : undefined;
      case "SwitchStatement":
        return p.discriminant === node ? p : undefined;
      case "VariableDeclarator":
        if (p.init !== node) return undefined;
        break;
      case "VariableDeclaration":
        if (p.kind === "var" || p.declarations[0] !== node || !isInStatementList(p, parents)) return undefined;
        return p;
      case "LogicalExpression":
      case "BinaryExpression":
        if (p.left !== node) return undefined;
        break;
      case "ConditionalExpression":
        if (p.test !== node) return undefined;
        break;
      case "UnaryExpression":
      case "SpreadElement":
        break;
      case "AssignmentExpression":
        if (p.right !== node || p.operator !== "=" || p.left.type !== "Identifier") return undefined;
        break;
      case "SequenceExpression":
      case "ArrayExpression":
      case "TemplateLiteral":
        if (
          (p.type === "TemplateLiteral"
            ? p.expressions
            : p.type === "SequenceExpression"
              ? p.expressions
              : p.elements)[0] !== node
        ) {
          return undefined;
        }
        break;
      case "MemberExpression":
        if (p.object !== node) return undefined;
        break;
      case "CallExpression": {
        if (p.callee === node || p.callee.type !== "Identifier") return undefined;
        const ref = scopes.referenceOf.get(p.callee);
        if (!ref?.binding || ref.binding.kind !== "function" || ref.binding.scope !== scopes.program) return undefined;
        const i = p.arguments.indexOf(node as acorn.Expression);
        if (i < 0 || !p.arguments.slice(0, i).every((a) => a.type === "Literal")) return undefined;
        break;
      }
      default:
        return undefined;
    }
  }
  return undefined;
}

function isInStatementList(s: acorn.Node, parents: Map<acorn.Node, AnyNode>): boolean {
  const p = parents.get(s);
  return !!p && (p.type === "BlockStatement" || p.type === "Program" || p.type === "SwitchCase");
}

interface StatementForm {
  kind: "expression" | "declare" | "assign" | "return";
  statement: Statement;
  /** The variable the result goes to (declare, assign). */
  target: string;
}

/** The call as a statement of its own: `f(a);`, `let x = f(a);`, `x = f(a);` or `return f(a);`. */
function statementForm(
  call: acorn.CallExpression,
  parent: AnyNode,
  parents: Map<acorn.Node, AnyNode>,
): StatementForm | undefined {
  if (parent.type === "ExpressionStatement" && isInStatementList(parent, parents)) {
    return { kind: "expression", statement: parent, target: "" };
  }
  if (parent.type === "ReturnStatement" && enclosingFunction(call, parents)) {
    return { kind: "return", statement: parent, target: "" };
  }
  if (parent.type === "VariableDeclarator" && parent.id.type === "Identifier") {
    const decl = parents.get(parent);
    if (decl && decl.type === "VariableDeclaration" && decl.kind !== "var" && decl.declarations.length === 1) {
      if (isInStatementList(decl, parents)) return { kind: "declare", statement: decl, target: parent.id.name };
    }
  }
  if (parent.type === "AssignmentExpression" && parent.operator === "=" && parent.left.type === "Identifier") {
    const st = parents.get(parent);
    if (st && st.type === "ExpressionStatement" && isInStatementList(st, parents)) {
      return { kind: "assign", statement: st, target: parent.left.name };
    }
  }
  return undefined;
}

interface BodyInfo {
  returns: acorn.ReturnStatement[];
  /** A return inside one of the body's own loops, switches or try blocks. */
  returnInLoop: boolean;
  hasFunctions: boolean;
  /** this, arguments, var, a nested function declaration, labels. */
  unsupported: boolean;
}

function bodyInfo(fn: acorn.FunctionDeclaration): BodyInfo {
  const info: BodyInfo = { returns: [], returnInLoop: false, hasFunctions: false, unsupported: false };
  const walk = (node: acorn.Node, inLoop: boolean, inFunction: boolean): void => {
    const n = node as AnyNode;
    switch (n.type) {
      case "ThisExpression":
        info.unsupported = true;
        return;
      case "Identifier":
        if (n.name === "arguments") info.unsupported = true;
        return;
      case "LabeledStatement":
        info.unsupported = true;
        return;
      case "VariableDeclaration":
        if (n.kind === "var" && !inFunction) info.unsupported = true;
        break;
      case "FunctionDeclaration":
        info.hasFunctions = true;
        if (!inFunction) info.unsupported = true;
        break;
      case "ReturnStatement":
        if (!inFunction) {
          info.returns.push(n);
          if (inLoop) info.returnInLoop = true;
        }
        break;
      default:
        break;
    }
    if (isFunctionNode(n) && n !== fn) {
      info.hasFunctions = true;
      // `this` and `arguments` inside a nested non-arrow function are its own.
      for (const c of childNodes(n)) walkNested(c, n.type !== "ArrowFunctionExpression");
      return;
    }
    const loop =
      inLoop ||
      n.type === "ForStatement" ||
      n.type === "ForInStatement" ||
      n.type === "ForOfStatement" ||
      n.type === "WhileStatement" ||
      n.type === "DoWhileStatement" ||
      n.type === "SwitchStatement" ||
      n.type === "TryStatement";
    for (const c of childNodes(n)) walk(c, loop, inFunction);
  };
  const walkNested = (node: acorn.Node, ownThis: boolean): void => {
    const n = node as AnyNode;
    if (!ownThis && (n.type === "ThisExpression" || (n.type === "Identifier" && n.name === "arguments"))) {
      info.unsupported = true;
    }
    if (isFunctionNode(n)) {
      for (const c of childNodes(n)) walkNested(c, ownThis || n.type !== "ArrowFunctionExpression");
      return;
    }
    for (const c of childNodes(n)) walkNested(c, ownThis);
  };
  for (const st of fn.body.body) walk(st, false, false);
  return info;
}

function renameAt(ms: MagicString, id: acorn.Identifier, name: string, parents: Map<acorn.Node, AnyNode>): void {
  const p = parents.get(id);
  if (p && p.type === "Property" && p.shorthand && p.value === id) {
    ms.appendLeft(id.end, `: ${name}`);
    return;
  }
  ms.overwrite(id.start, id.end, name);
}

function resolve(scope: Scope | undefined, name: string): Binding | undefined {
  for (let s = scope; s; s = s.parent) {
    const b = s.bindings.get(name);
    if (b) return b;
  }
  return undefined;
}

function within(node: acorn.Node, outer: acorn.Node): boolean {
  return node.start >= outer.start && node.end <= outer.end;
}

/** A scope nested in `fnScope` without a function between them. */
function ownedBy(s: Scope, fnScope: Scope): boolean {
  for (let p = s; p; p = p.parent!) {
    if (p === fnScope) return true;
    if (p.kind === "function" || p.kind === "program") return false;
  }
  return false;
}

function enclosingFunction(node: acorn.Node, parents: Map<acorn.Node, AnyNode>): acorn.Function | undefined {
  for (let p = parents.get(node); p; p = parents.get(p)) if (isFunctionNode(p)) return p as acorn.Function;
  return undefined;
}

function parentMap(program: acorn.Program): Map<acorn.Node, AnyNode> {
  const parents = new Map<acorn.Node, AnyNode>();
  const visit = (n: acorn.Node): void => {
    for (const c of childNodes(n)) {
      parents.set(c, n as AnyNode);
      visit(c);
    }
  };
  visit(program);
  return parents;
}

/** Every name declared in any scope (the program's scope among them: scopeOf holds it too). */
function collectDeclaredNames(scopeOf: Map<acorn.Node, Scope>, names: Set<string>): void {
  for (const s of new Set(scopeOf.values())) for (const n of s.bindings.keys()) names.add(n);
}

function freshNamer(used: Set<string>): (base: string) => string {
  return (base) => {
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}${i}`;
    used.add(name);
    return name;
  };
}

import type * as acorn from "acorn";

/**
 * A small lexical scope analysis over an acorn (ESTree) syntax tree: which declaration each identifier refers to.
 * The dialect gate needs it to tell a global `Map` from a local variable named `Map`, to find function
 * declarations used before they are reached, and to find closures that capture a `for (let ...)` variable.
 *
 * Scoping follows ES2015+ strict-mode rules: `var` belongs to the nearest function (or program), `let`, `const`,
 * `class` and function declarations to the nearest block. Bundles are scripts, so there are no imports.
 */

export type BindingKind = "var" | "let" | "const" | "function" | "class" | "param" | "catch" | "name";
export type ScopeKind = "program" | "function" | "block" | "for" | "catch" | "class" | "name";

export interface Scope {
  kind: ScopeKind;
  node: acorn.Node;
  parent: Scope | undefined;
  /** The nearest program or function scope (where `var` lands). */
  varScope: Scope;
  bindings: Map<string, Binding>;
}

export interface Binding {
  name: string;
  kind: BindingKind;
  scope: Scope;
  /** The declaring identifier. */
  id: acorn.Identifier;
  /** The declaring node: the FunctionDeclaration, VariableDeclaration, ClassDeclaration, function, or catch clause. */
  declaration: acorn.Node;
}

export interface Reference {
  id: acorn.Identifier;
  /** The innermost scope the reference appears in. */
  scope: Scope;
  /** Undefined for globals (no declaration in any enclosing scope). */
  binding: Binding | undefined;
}

export interface ScopeAnalysis {
  program: Scope;
  references: Reference[];
  /** Reference for each identifier node in reference position. */
  referenceOf: Map<acorn.Identifier, Reference>;
  /** Scope created by a node (function, block, loop head, catch clause, class). */
  scopeOf: Map<acorn.Node, Scope>;
}

type AnyNode = acorn.AnyNode;
type FunctionNode =
  | acorn.FunctionDeclaration
  | acorn.AnonymousFunctionDeclaration
  | acorn.FunctionExpression
  | acorn.ArrowFunctionExpression;
type ClassNode = acorn.ClassDeclaration | acorn.AnonymousClassDeclaration | acorn.ClassExpression;

export function isFunctionNode(node: acorn.Node): node is FunctionNode {
  return (
    node.type === "FunctionDeclaration" || node.type === "FunctionExpression" || node.type === "ArrowFunctionExpression"
  );
}

/** Child nodes of `node` in source (evaluation) order. */
export function childNodes(node: acorn.Node): acorn.Node[] {
  const out: acorn.Node[] = [];
  for (const key of Object.keys(node)) {
    if (key === "loc" || key === "range") continue;
    const value = (node as unknown as Record<string, unknown>)[key];
    if (Array.isArray(value)) {
      for (const v of value) if (isNode(v)) out.push(v);
    } else if (isNode(value)) {
      out.push(value);
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

function isNode(v: unknown): v is acorn.Node {
  return typeof v === "object" && v !== null && typeof (v as { type?: unknown }).type === "string";
}

export function analyzeScopes(program: acorn.Program): ScopeAnalysis {
  const scopeOf = new Map<acorn.Node, Scope>();
  // Identifiers are resolved after the whole tree is seen, so hoisted declarations (var, function) resolve too.
  const pending: { id: acorn.Identifier; scope: Scope }[] = [];

  function newScope(kind: ScopeKind, node: acorn.Node, parent: Scope | undefined): Scope {
    const s: Scope = { kind, node, parent, varScope: undefined as unknown as Scope, bindings: new Map() };
    s.varScope = kind === "program" || kind === "function" || !parent ? s : parent.varScope;
    scopeOf.set(node, s);
    return s;
  }

  function declare(scope: Scope, id: acorn.Identifier, kind: BindingKind, declaration: acorn.Node): void {
    // A later declaration of the same name in one scope (var re-declaration, sloppy duplicates) keeps the first.
    if (!scope.bindings.has(id.name)) scope.bindings.set(id.name, { name: id.name, kind, scope, id, declaration });
  }

  /** Declares the identifiers of a binding pattern; default values and computed keys are expressions. */
  function declarePattern(
    pattern: acorn.Pattern,
    target: Scope,
    evalScope: Scope,
    kind: BindingKind,
    decl: acorn.Node,
  ): void {
    switch (pattern.type) {
      case "Identifier":
        declare(target, pattern, kind, decl);
        return;
      case "ObjectPattern":
        for (const p of pattern.properties) {
          if (p.type === "RestElement") declarePattern(p.argument, target, evalScope, kind, decl);
          else {
            if (p.computed) visit(p.key, evalScope);
            declarePattern(p.value, target, evalScope, kind, decl);
          }
        }
        return;
      case "ArrayPattern":
        for (const e of pattern.elements) if (e) declarePattern(e, target, evalScope, kind, decl);
        return;
      case "RestElement":
        declarePattern(pattern.argument, target, evalScope, kind, decl);
        return;
      case "AssignmentPattern":
        declarePattern(pattern.left, target, evalScope, kind, decl);
        visit(pattern.right, evalScope);
        return;
      default:
        // MemberExpression targets only occur in assignments, not declarations.
        visit(pattern, evalScope);
    }
  }

  function visitFunction(fn: FunctionNode, scope: Scope): void {
    let outer = scope;
    if (fn.type === "FunctionExpression" && fn.id) {
      outer = newScope("name", fn.id, scope);
      declare(outer, fn.id, "name", fn);
    }
    const fs = newScope("function", fn, outer);
    for (const p of fn.params) declarePattern(p, fs, fs, "param", fn);
    if (fn.body.type === "BlockStatement") {
      scopeOf.set(fn.body, fs);
      for (const st of fn.body.body) visit(st, fs);
    } else {
      visit(fn.body, fs);
    }
  }

  function visitClass(cls: ClassNode, scope: Scope): void {
    if (cls.superClass) visit(cls.superClass, scope);
    const cs = newScope("class", cls, scope);
    if (cls.id) declare(cs, cls.id, "name", cls);
    for (const member of cls.body.body) {
      if (member.type === "StaticBlock") {
        const bs = newScope("function", member, cs);
        for (const st of member.body) visit(st, bs);
        continue;
      }
      if (member.computed) visit(member.key, cs);
      if (member.value) {
        if (member.type === "PropertyDefinition") {
          // Field initialisers run like a method body (own `this`, deferred to construction).
          const fs = newScope("function", member, cs);
          visit(member.value, fs);
        } else {
          visit(member.value, cs);
        }
      }
    }
  }

  function visit(node: acorn.Node, scope: Scope): void {
    const n = node as AnyNode;
    switch (n.type) {
      case "Identifier":
        pending.push({ id: n, scope });
        return;
      case "FunctionDeclaration":
        if (n.id) declare(scope, n.id, "function", n);
        visitFunction(n, scope);
        return;
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        visitFunction(n, scope);
        return;
      case "ClassDeclaration":
        if (n.id) declare(scope, n.id, "class", n);
        visitClass(n, scope);
        return;
      case "ClassExpression":
        visitClass(n, scope);
        return;
      case "VariableDeclaration": {
        const target = n.kind === "var" ? scope.varScope : scope;
        const kind: BindingKind = n.kind === "var" ? "var" : n.kind === "let" ? "let" : "const";
        for (const d of n.declarations) {
          declarePattern(d.id, target, scope, kind, n);
          if (d.init) visit(d.init, scope);
        }
        return;
      }
      case "BlockStatement": {
        const bs = newScope("block", n, scope);
        for (const st of n.body) visit(st, bs);
        return;
      }
      case "StaticBlock":
        return;
      case "ForStatement":
      case "ForInStatement":
      case "ForOfStatement": {
        const head = n.type === "ForStatement" ? n.init : n.left;
        const lexical = head && head.type === "VariableDeclaration" && head.kind !== "var";
        const fs = lexical ? newScope("for", n, scope) : scope;
        for (const c of childNodes(n)) visit(c, fs);
        return;
      }
      case "SwitchStatement": {
        visit(n.discriminant, scope);
        const ss = newScope("block", n, scope);
        for (const c of n.cases) {
          if (c.test) visit(c.test, ss);
          for (const st of c.consequent) visit(st, ss);
        }
        return;
      }
      case "CatchClause": {
        const cs = newScope("catch", n, scope);
        if (n.param) declarePattern(n.param, cs, cs, "catch", n);
        visit(n.body, cs);
        return;
      }
      case "Program":
        for (const st of n.body) visit(st, scope);
        return;
      case "MemberExpression":
        visit(n.object, scope);
        if (n.computed) visit(n.property, scope);
        return;
      case "Property":
        if (n.computed) visit(n.key, scope);
        visit(n.value, scope);
        return;
      case "MethodDefinition":
      case "PropertyDefinition":
        // Only reached through visitClass.
        return;
      case "LabeledStatement":
        visit(n.body, scope);
        return;
      case "BreakStatement":
      case "ContinueStatement":
      case "MetaProperty":
      case "PrivateIdentifier":
        return;
      default:
        for (const c of childNodes(n)) visit(c, scope);
    }
  }

  const root = newScope("program", program, undefined);
  visit(program, root);

  const references: Reference[] = [];
  const referenceOf = new Map<acorn.Identifier, Reference>();
  for (const p of pending) {
    let s: Scope | undefined = p.scope;
    let binding: Binding | undefined;
    while (s && !binding) {
      binding = s.bindings.get(p.id.name);
      s = s.parent;
    }
    const ref: Reference = { id: p.id, scope: p.scope, binding };
    references.push(ref);
    referenceOf.set(p.id, ref);
  }
  return { program: root, references, referenceOf, scopeOf };
}

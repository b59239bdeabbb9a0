import * as acorn from "acorn";

/**
 * An estimate of Espruino JsVars in use, so that a bundle that would run out of memory on a 2630-variable Puck.js
 * fails in the simulator too. Espruino stores everything in fixed-size variables (12-16 bytes); V8 does not, so we
 * walk everything reachable from the device's roots and charge it by Espruino's storage rules (jsvar.h):
 *
 * - every object, array and function: 1 variable; each property or array element: 1 "name" variable, plus
 *   1 per 12 characters of a key longer than 8 characters;
 * - a value stored in a property: small integers, booleans, null and undefined live inside the name variable
 *   (0 extra); doubles 1; strings 1 per 12 characters (minimum 1); strings that Storage.read returned are
 *   memory-mapped flash and cost 1 whatever their length;
 * - ArrayBuffers are flat: 1 + 1 per 16 bytes; a typed array or DataView over one costs 1 more (the buffer is
 *   charged once however many views share it);
 * - functions: 1 for the function, 2 for its code (a name and a reference: the code stays in flash when loaded from
 *   Storage, as .bootcde is), 1 for its scope link unless defined at the top level, plus their own properties;
 *   class prototypes are walked once;
 * - Espruino's built-in objects (E, NRF, Math, ...) are in flash and cost nothing, but what the program stores
 *   in them (event listeners, timers, scan callbacks, services) is counted through the simulator's own roots;
 * - a fixed BASELINE for the interpreter's root objects.
 *
 * Closures: V8 does not let us see captured variables, so the simulator instruments the bundle (see
 * `instrumentScopes`) to expose the top-level scope of the program and of an IIFE wrapper (esbuild's bundle format).
 * Variables captured only by inner closures are not counted; objects they point to are, when reachable otherwise.
 * The result is an estimate (typically within ~20% on the fixtures); it is reported as the peak over the samples
 * taken after callbacks.
 */
/**
 * JsVars of an empty program: ~150 on the 13-byte-variable nRF52 builds (shared/ESPRUINO.md, measured on a Linux
 * build with that layout); 284 on Bangle.js 2 (the real interpreter in shared/espruino/ is its firmware:
 * process.memory().usage once start-up is done).
 */
export function emptyProgramVars(varBytes: number): number {
  return varBytes >= 14 ? 284 : 150;
}

/**
 * How Espruino packs data into variables, measured in the real interpreter (14-byte variables) with
 * process.memory() around single allocations; 13-byte variables hold one byte less per variable.
 */
export interface VarPacking {
  /** Characters in a string's first variable (a value, not a property name). */
  stringFirst: number;
  /** Characters in each further variable of a string or a property name. */
  stringExt: number;
  /** Characters a property name variable holds itself. */
  nameFirst: number;
  /** Bytes per variable of a flat string (the storage of an ArrayBuffer). */
  flat: number;
}

export function varPacking(varBytes: number): VarPacking {
  return varBytes >= 14
    ? { stringFirst: 9, stringExt: 10, nameFirst: 4, flat: 14 }
    : { stringFirst: 8, stringExt: 9, nameFirst: 4, flat: 13 };
}

export class JsVarEstimator {
  private pack: VarPacking;
  /** Variables of the empty program, counted in every measure(). */
  readonly baseline: number;
  constructor(varBytes = 13) {
    this.pack = varPacking(varBytes);
    this.baseline = emptyProgramVars(varBytes);
    // Objects the simulator itself creates (in Node's realm) have Node's prototypes: those are not the program's.
    for (const p of [Object.prototype, Array.prototype, Function.prototype]) this.markBuiltin(p);
  }

  /** Objects (and their prototypes) that belong to the interpreter, not to the program. */
  readonly builtins = new WeakSet<object>();
  /** Values of strings handed out as memory-mapped flash (Storage.read). */
  private mapped = new Set<string>();
  private mappedOrder: string[] = [];

  /** Functions defined at the program's top level (Espruino keeps no scope link for them). */
  private readonly rootFunctions = new WeakSet<object>();

  markRootFunction(f: unknown): void {
    if (typeof f === "function" && !this.builtins.has(f)) this.rootFunctions.add(f);
  }

  markBuiltin(o: unknown): void {
    if (o !== null && (typeof o === "object" || typeof o === "function")) this.builtins.add(o as object);
  }

  markMapped(s: string): void {
    if (s.length <= 12 || this.mapped.has(s)) return;
    this.mapped.add(s);
    this.mappedOrder.push(s);
    if (this.mappedOrder.length > 64) this.mapped.delete(this.mappedOrder.shift() as string);
  }

  private stringVars(len: number): number {
    const P = this.pack;
    return len <= P.stringFirst ? 1 : 1 + Math.ceil((len - P.stringFirst) / P.stringExt);
  }

  /**
   * Variables `roots` would use with another board's variable size (13 or 14 bytes), without the baseline: the
   * same heap under the other layout's packing (bench espruino-real converts the real interpreter's 14-byte count).
   */
  programAs(roots: unknown[], varBytes: number): number {
    const own = this.pack;
    this.pack = varPacking(varBytes);
    try {
      return this.measure(roots) - this.baseline;
    } finally {
      this.pack = own;
    }
  }

  /** Variables used by everything reachable from `roots` (plus the baseline). */
  measure(roots: unknown[]): number {
    const seen = new Set<object>();
    const stack: object[] = [];
    let total = this.baseline;
    const value = (v: unknown): number => {
      switch (typeof v) {
        case "number":
          return (v | 0) === v ? 0 : 1;
        case "string":
          return this.mapped.has(v) ? 1 : this.stringVars(v.length);
        case "object":
        case "function":
          if (v === null) return 0;
          if (!seen.has(v as object) && !this.builtins.has(v as object)) {
            seen.add(v as object);
            stack.push(v as object);
          }
          return 0;
        default:
          return 0;
      }
    };
    const P = this.pack;
    const key = (k: string): number =>
      1 + (k.length > P.nameFirst ? Math.ceil((k.length - P.nameFirst) / P.stringExt) : 0);
    for (const r of roots) {
      // Roots are walked even when they are built-ins (the global object, E): what the program stored in them counts.
      if (r !== null && (typeof r === "object" || typeof r === "function") && this.builtins.has(r as object)) {
        if (!seen.has(r as object)) {
          seen.add(r as object);
          stack.push(r as object);
        }
      } else total += value(r);
    }
    while (stack.length) {
      const o = stack.pop() as object;
      total += 1;
      const tag = Object.prototype.toString.call(o);
      if (tag === "[object ArrayBuffer]") {
        // Its bytes live in a flat string: a header variable, then whole variables of bytes (short ones: a string).
        const n = (o as ArrayBuffer).byteLength;
        total += n <= P.stringFirst ? 1 : 1 + Math.ceil(n / P.flat);
        continue;
      }
      if (ArrayBuffer.isView(o)) {
        value((o as Uint8Array).buffer);
        continue;
      }
      if (typeof o === "function") {
        // A function stored in flash: the function, its code name and code, its scope link, and a variable per
        // parameter (measured: 3 + parameters for a function defined at the root, where the band's functions
        // live since the bundle is not wrapped; one more, the scope link, for one defined inside a function).
        // Only the prototype and enumerable own properties are walked (never arguments/caller).
        total += (this.rootFunctions.has(o) ? 3 : 4) + (o as (...a: unknown[]) => unknown).length;
        const p = Object.getOwnPropertyDescriptor(o, "prototype");
        if (p && p.value && typeof p.value === "object" && Object.getOwnPropertyNames(p.value).length > 1)
          value(p.value);
        const keys = Object.keys(o);
        for (let i = 0; i < keys.length; i++) {
          const d = Object.getOwnPropertyDescriptor(o, keys[i]);
          total += key(keys[i]) + (d && "value" in d ? value(d.value) : 0);
        }
        continue;
      } else if (Array.isArray(o)) {
        const a = o as unknown[];
        for (let i = 0; i < a.length; i++) {
          if (!(i in a)) continue;
          total += 1 + value(a[i]);
        }
        continue;
      } else {
        if (tag === "[object Date]" || tag === "[object RegExp]") total += 1;
        if (tag === "[object Promise]") total += 2;
        const proto = Object.getPrototypeOf(o);
        if (proto && !this.builtins.has(proto)) value(proto);
      }
      const holderBuiltin = this.builtins.has(o);
      const names = Object.getOwnPropertyNames(o);
      for (let i = 0; i < names.length; i++) {
        const k = names[i];
        const d = Object.getOwnPropertyDescriptor(o, k);
        if (!d) continue;
        if (k === "prototype" || k === "constructor") continue;
        if (!d.enumerable && !k.startsWith("#on")) {
          // Class methods live on prototypes as non-enumerable properties: they are real JsVars on Espruino.
          if (typeof d.value !== "function") continue;
        }
        const v = d.value;
        // Built-ins hanging off built-ins (the global's Math, E's methods) live in flash and cost nothing.
        if (holderBuiltin && v !== null && (typeof v === "object" || typeof v === "function") && this.builtins.has(v))
          continue;
        total += key(k);
        if ("value" in d) total += value(v);
        else {
          value(d.get);
          value(d.set);
        }
      }
    }
    return total;
  }
}

/** The hook name a bundle's instrumented top-level scopes report to. */
export const SCOPE_HOOK = "__traceletSimScope";

/**
 * Appends, at the end of the program and of an IIFE wrapper's body, a call that hands the simulator a function
 * returning the values of that scope's top-level declarations (let/const/class/var/function). Semantics are
 * unchanged: the call runs after the scope's own code and only reads variables. Programs acorn cannot parse are
 * returned unchanged (the interpreter will report the syntax error itself).
 */
export function instrumentScopes(source: string): string {
  let ast: acorn.Program;
  try {
    ast = acorn.parse(source, { ecmaVersion: 2022, sourceType: "script", allowReturnOutsideFunction: false });
  } catch {
    return source;
  }
  const inserts: { at: number; text: string }[] = [];
  const top = declaredNames(ast.body, true);
  if (top.length) inserts.push({ at: source.length, text: "\n;" + hookCall(top) + "\n" });
  for (const st of ast.body) {
    const fn = iifeFunction(st);
    if (!fn || fn.body.type !== "BlockStatement") continue;
    const names = declaredNames(fn.body.body, false);
    if (names.length) inserts.push({ at: fn.body.end - 1, text: "\n;" + hookCall(names) + "\n" });
  }
  inserts.sort((a, b) => b.at - a.at);
  let out = source;
  for (const ins of inserts) out = out.slice(0, ins.at) + ins.text + out.slice(ins.at);
  return out;
}

function hookCall(names: string[]): string {
  const fields = names.map((n) => `${JSON.stringify(n)}:${n}`).join(",");
  return `typeof ${SCOPE_HOOK}==="function"&&${SCOPE_HOOK}(function(){return {${fields}};})`;
}

/** Names declared at the top of a statement list; at the program level only the lexical ones (var is global). */
function declaredNames(
  body: acorn.Statement[] | (acorn.Statement | acorn.ModuleDeclaration)[],
  programLevel: boolean,
): string[] {
  const out: string[] = [];
  for (const st of body) {
    if (st.type === "VariableDeclaration") {
      if (programLevel && st.kind === "var") continue;
      for (const d of st.declarations) if (d.id.type === "Identifier") out.push(d.id.name);
    } else if (st.type === "ClassDeclaration" && st.id) {
      out.push(st.id.name);
    } else if (st.type === "FunctionDeclaration" && st.id && !programLevel) {
      out.push(st.id.name);
    }
  }
  return out;
}

function iifeFunction(st: acorn.Statement | acorn.ModuleDeclaration): acorn.Function | undefined {
  if (st.type !== "ExpressionStatement") return undefined;
  let e: acorn.Expression = st.expression;
  if (e.type === "UnaryExpression") e = e.argument;
  if (e.type !== "CallExpression") return undefined;
  const c = e.callee;
  if (c.type === "FunctionExpression" || c.type === "ArrowFunctionExpression") return c;
  if (
    c.type === "MemberExpression" &&
    (c.object.type === "FunctionExpression" || c.object.type === "ArrowFunctionExpression")
  ) {
    return c.object;
  }
  return undefined;
}

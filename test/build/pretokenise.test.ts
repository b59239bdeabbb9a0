import * as fs from "fs";
import * as path from "path";
import {
  detokenise,
  LEX_NULLISH,
  LEX_RAW_INT16,
  LEX_RAW_STRING8,
  pretokenise,
} from "../../host-tools/src/build/pretokenise";
import { RealInterpreter } from "../../host-tools/src/espruino-real/interpreter";
import { BOARDS, realInterpreterTests } from "../espruino-real/helpers";
import { ROOT } from "../helpers/paths";

const dist = (board: string, file: string) => path.join(ROOT, "dist", board, file);

describe("pretokenised bundles", () => {
  test.each(BOARDS)("%s: what is flashed is the gated bundle, pretokenised; detokenise gives it back exactly", (b) => {
    const flashed = fs.readFileSync(dist(b, "tracelet.js"));
    const plain = fs.readFileSync(dist(b, "tracelet.plain.js"), "latin1");
    expect(Buffer.from(pretokenise(plain)).equals(flashed)).toBe(true);
    expect(detokenise(flashed)).toBe(plain);
    // Reserved words and operators are single bytes: the flashed bundle is much smaller than the plain one.
    expect(flashed.length).toBeLessThan(plain.length * 0.85);
  });

  test("tokens, raw strings and integers, and the spaces that keep text apart", () => {
    const code = 'function f(a){return a??"xyz"}var n=1000;for(let k in o)if(k==="a"&&n>=2)x=a+ ++b;';
    const t = pretokenise(code);
    expect(t).toContain(LEX_NULLISH);
    expect(t).toContain(LEX_RAW_STRING8);
    expect(t).toContain(LEX_RAW_INT16);
    expect(detokenise(t)).toBe(code);
    // Strings with escapes and non-canonical numbers stay as text.
    expect(detokenise(pretokenise('a="q\\n";b=0x10;c=1e3'))).toBe('a="q\\n";b=0x10;c=1e3');
    expect(() => pretokenise('a="\u00e9"')).toThrow(/non-ASCII/);
    expect(() => detokenise(new Uint8Array([0xff]))).toThrow(/not an Espruino token/);
  });
});

realInterpreterTests()("pretokenised code in the real interpreter", () => {
  test("the interpreter runs pretokenised text as it runs the plain text", async () => {
    const i = await RealInterpreter.start({});
    const code =
      'var r=[];function f(a,b){return a??b}r.push(f(null,"raw"),1000,-300,0,typeof r,r instanceof Array);' +
      "for(const k of [1,2,3])if(k>=2&&k!==3)r.push(k<<2);let s=0;for(let j=0;j<4;j++)s+=j;r.push(s);";
    i.writeFile("plain", Buffer.from(code, "latin1"));
    i.writeFile("tok", pretokenise(code));
    const run = (name: string) =>
      i.eval<unknown[]>(`(function(){eval(require("Storage").read("${name}"));return r})()`);
    expect(run("tok")).toEqual(run("plain"));
    expect(run("tok")).toEqual(["raw", 1000, -300, 0, "object", true, 8, 6]);
  });
});

import fc from "fast-check";
import { NorFlash, PowerCut } from "../../host-tools/src/sim/flash";
import { EspruinoStorage, HEADER_SIZE, StorageError } from "../../host-tools/src/sim/storage";
import { file, oneBand } from "./helpers";

/** Storage on nRF52 flash (ported from Espruino's jsflash.c): the semantics bands rely on. */
function puckStorage(pages = 10): { flash: NorFlash; s: EspruinoStorage } {
  const flash = new NorFlash(0x60000, pages * 4096, 4096);
  return { flash, s: new EspruinoStorage(flash) };
}
const bytes = (...b: number[]) => Uint8Array.from(b);
const text = (s: string) => Uint8Array.from(Buffer.from(s, "latin1"));

describe("nRF52 flash", () => {
  test("erased flash reads 0xFF and writes only clear bits", () => {
    const f = new NorFlash(0, 8192, 4096);
    expect(f.read(100, 4)).toEqual(bytes(0xff, 0xff, 0xff, 0xff));
    f.program(100, bytes(0xf0, 0x0f, 0xaa, 0xff));
    f.program(100, bytes(0x3c, 0xff, 0xff, 0x55));
    expect(f.read(100, 4)).toEqual(bytes(0x30, 0x0f, 0xaa, 0x55));
  });

  test("only whole pages erase, and each erase is counted", () => {
    const f = new NorFlash(0, 8192, 4096);
    f.program(10, bytes(0));
    f.program(5000, bytes(0));
    f.erasePage(20);
    expect(f.readByte(10)).toBe(0xff);
    expect(f.readByte(5000)).toBe(0);
    expect(Array.from(f.eraseCounts)).toEqual([1, 0]);
  });

  test("a power cut lands on a byte: earlier bytes are written, later ones not, and the chip goes dead", () => {
    const f = new NorFlash(0, 4096, 4096);
    f.armCut(5);
    expect(() => f.program(0, new Uint8Array(16))).toThrow(PowerCut);
    expect(Array.from(f.read(0, 8))).toEqual([0, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
    expect(() => f.program(100, bytes(0))).toThrow(PowerCut);
    f.revive();
    f.program(100, bytes(0));
    expect(f.readByte(100)).toBe(0);
  });

  test("a cut inside a page erase leaves the first part erased", () => {
    const f = new NorFlash(0, 4096, 4096);
    f.program(0, new Uint8Array(4096));
    f.armCut(1000);
    expect(() => f.erasePage(0)).toThrow(PowerCut);
    expect(f.readByte(999)).toBe(0xff);
    expect(f.readByte(1000)).toBe(0);
    expect(f.eraseCounts[0]).toBe(0);
  });
});

describe("Storage (jsflash.c semantics)", () => {
  test("write/read round trip; read returns the file, a missing file is undefined", () => {
    const { s } = puckStorage();
    expect(s.write("a", text("Hello"), 0, 0)).toBe(true);
    expect(s.read("a")).toEqual(text("Hello"));
    expect(s.read("b")).toBeUndefined();
    expect(s.read("a", 1, 3)).toEqual(text("ell"));
  });

  test("preallocate with a size, then fill untouched regions by offset (the documented example)", () => {
    const { s } = puckStorage();
    s.write("a", text("Hello"), 0, 14);
    expect(Buffer.from(s.read("a") as Uint8Array).toString("latin1")).toBe("Hello" + "\xff".repeat(9));
    s.write("a", text(" "), 5, 0);
    s.write("a", text("World!!!"), 6, 0);
    expect(Buffer.from(s.read("a") as Uint8Array).toString("latin1")).toBe("Hello World!!!");
    s.write("a", text(" "), 0, 0);
    expect(Buffer.from(s.read("a") as Uint8Array).toString("latin1")).toBe(" ");
  });

  test.each([
    [
      "over already written bytes, even with the same data",
      () => {
        const { s } = puckStorage();
        s.write("a", text("AB"), 0, 8);
        s.write("a", text("AB"), 0 + 2, 0);
        return () => s.write("a", text("A"), 0 + 2, 0);
      },
      "File already written with different data",
    ],
    [
      "past the end of the file",
      () => {
        const { s } = puckStorage();
        s.write("a", text("AB"), 0, 8);
        return () => s.write("a", text("XYZ"), 6, 0);
      },
      "Too much data for file size",
    ],
    [
      "at an offset of a file that does not exist",
      () => {
        const { s } = puckStorage();
        return () => s.write("nope", text("x"), 4, 0);
      },
      "Unable to find or create file",
    ],
    [
      "when Storage is full",
      () => {
        const { s } = puckStorage(2);
        s.write("big", new Uint8Array(7000), 0, 0);
        return () => s.write("more", new Uint8Array(2000), 0, 0);
      },
      "Unable to find or create file",
    ],
  ])("throws when writing %s", (_what, setup, message) => {
    const attempt = setup();
    expect(attempt).toThrow(StorageError);
    expect(attempt).toThrow(message);
  });

  test("rewriting a file leaves the old copy as trash until compaction reclaims it", () => {
    const { s } = puckStorage();
    s.write("a", new Uint8Array(1000).fill(1), 0, 0);
    s.write("a", new Uint8Array(1000).fill(2), 0, 0);
    let st = s.stats();
    expect(st.fileCount).toBe(1);
    expect(st.trashCount).toBe(1);
    expect(st.trashBytes).toBe(1000 + HEADER_SIZE);
    const freeBefore = s.getFree();
    expect(s.compact()).toBe(true);
    st = s.stats();
    expect(st.trashCount).toBe(0);
    expect(s.getFree()).toBe(freeBefore + 1000 + HEADER_SIZE);
    expect(s.read("a")).toEqual(new Uint8Array(1000).fill(2));
  });

  test("erase frees nothing until compaction; creating a file that does not fit compacts automatically", () => {
    const { s, flash } = puckStorage(3);
    s.write("a", new Uint8Array(5000).fill(1), 0, 0);
    s.write("b", new Uint8Array(3000).fill(2), 0, 0);
    s.erase("a");
    expect(s.list()).toEqual(["b"]);
    s.write("c", new Uint8Array(5000).fill(3), 0, 0);
    expect(s.list().sort()).toEqual(["b", "c"]);
    expect(s.read("b")).toEqual(new Uint8Array(3000).fill(2));
    expect(Array.from(flash.eraseCounts).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  test("list, getFree and getStats agree with the files written", () => {
    const { s } = puckStorage();
    s.write(".bootcde", text("x".repeat(100)), 0, 0);
    s.write("tl.l0", text("L"), 0, 4064);
    expect(s.list()).toEqual([".bootcde", "tl.l0"]);
    const st = s.stats();
    expect(st.fileBytes).toBe(100 + HEADER_SIZE + 4064 + HEADER_SIZE);
    expect(s.getFree()).toBe(10 * 4096 - st.fileBytes);
  });

  test("names are truncated to 28 characters", () => {
    const { s } = puckStorage();
    s.write("x".repeat(40), text("1"), 0, 0);
    expect(s.list()).toEqual(["x".repeat(28)]);
  });

  test("property: a power cut at any byte of any write (no compaction) never harms files already complete", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9000 }), fc.integer({ min: 1, max: 40 }), (cutAt, writes) => {
        const { s, flash } = puckStorage(4);
        s.write("keep", text("precious"), 0, 0);
        flash.armCut(cutAt);
        try {
          s.write("log", new Uint8Array(16).fill(7), 0, 2000);
          for (let i = 1; i <= writes; i++) s.write("log", new Uint8Array(16).fill(i), i * 16, 0);
          s.write("log", text("again"), 0, 0);
        } catch (e) {
          if (!(e instanceof PowerCut)) throw e;
        }
        flash.revive();
        flash.disarmCut();
        const after = new EspruinoStorage(flash);
        expect(after.read("keep")).toEqual(text("precious"));
        expect(() => after.list()).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  test("a power cut during compaction can lose files, as on the device (pages are erased before rewriting)", () => {
    const { s, flash } = puckStorage(3);
    s.write("keep", text("precious"), 0, 0);
    s.write("junk", new Uint8Array(3000), 0, 0);
    s.erase("junk");
    flash.armCut(10);
    expect(() => s.compact()).toThrow(PowerCut);
    flash.revive();
    expect(new EspruinoStorage(flash).read("keep")).toBeUndefined();
  });
});

describe("Storage inside a device", () => {
  test("a power cut mid-write reboots the band with flash as it was at the cut, and the log recovers", () => {
    const { world, band } = oneBand("flash-log.js");
    world.run(3);
    band.cutPowerAfterFlashBytes(7); // inside the next 16-byte record
    world.run(10);
    expect(band.powerOns).toBe(2);
    expect(band.faults).toEqual([]);
    const log = band.storage.read("log") as Uint8Array;
    const seqs: number[] = [];
    let torn = 0;
    for (let pos = 16; pos + 16 <= log.length; pos += 16) {
      const r = log.subarray(pos, pos + 16);
      if (r.every((b) => b === 0xff)) break;
      let sum = 0;
      for (let i = 0; i < 15; i++) sum += r[i];
      if ((sum & 255) === r[15]) seqs.push(r[0] | (r[1] << 8) | (r[2] << 16));
      else torn++;
    }
    expect(torn).toBe(1);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
    expect(seqs.length).toBeGreaterThan(60);
  });

  test("property: wherever the cut falls, the band reboots, keeps no fault and never rewrites a written slot", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), (cut) => {
        const { world, band } = oneBand("flash-log.js", { name: `cut${cut}` });
        world.run(1.05);
        band.cutPowerAfterFlashBytes(cut);
        world.run(4);
        expect(band.faults).toEqual([]);
        expect(band.powerOns).toBe(2);
        expect(file(band, "log")).toBeDefined();
      }),
      { numRuns: 40 },
    );
  });
});

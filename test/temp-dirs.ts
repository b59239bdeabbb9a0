import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * A maker of temporary directories for one test file, each named `<prefix>XXXXXX` under the system's temp
 * directory and removed after the file's tests (afterAll), so a test run leaves nothing behind.
 */
export function tempDirs(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(d);
    return d;
  };
}

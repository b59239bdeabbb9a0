import { IncomingMessage } from "http";
import { HttpError } from "./errors";

/**
 * Reads a request body of at most `max` bytes. A Content-Length above the limit is refused before reading;
 * a body that grows past it while streaming (chunked, or a lying Content-Length) is cut off.
 */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && (!/^\d+$/.test(declared) || Number(declared) > max)) {
    return Promise.reject(tooLarge(max));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | null, value?: Buffer) => {
      if (done) return;
      done = true;
      req.removeListener("data", onData);
      if (err) reject(err);
      else resolve(value as Buffer);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        finish(tooLarge(max));
        return;
      }
      chunks.push(c);
    };
    req.on("data", onData);
    req.on("end", () => finish(null, Buffer.concat(chunks, size)));
    req.on("error", (e) => finish(e));
    req.on("aborted", () => finish(new HttpError(400, "aborted", "request aborted")));
  });
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, "body_too_large", `request body is larger than ${max} bytes`);
}

import { z } from "zod";

/**
 * An error answered as JSON `{ error, code }` with an HTTP status. `error` is one human sentence; `code` is a
 * stable snake_case value clients branch on. Internal errors never reach the client with details.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** Validates a parsed body with a zod schema; a failure becomes a 400 naming each bad field. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw zodHttpError(r.error);
}

/** A zod failure as the 400 answer: the first issue as the message, up to 10 issues listed. */
export function zodHttpError(error: z.ZodError): HttpError {
  const issues = error.issues.slice(0, 10).map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
  const first = issues[0];
  return new HttpError(400, "bad_request", first.path ? `${first.path}: ${first.message}` : first.message, { issues });
}

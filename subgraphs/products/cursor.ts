import { badInput } from "../shared/errors.ts";

/** Longer than any cursor we hand out; refuses junk before decoding it. */
const MAX_CURSOR_LENGTH = 100;

/** An opaque cursor: base64url of `{"p": position}`. Clients must only pass back what they got. */
export function encodeCursor(position: number): string {
  return Buffer.from(JSON.stringify({ p: position })).toString("base64url");
}

/** The catalogue position inside a cursor, or BAD_USER_INPUT on field `after`. */
export function decodeCursor(cursor: string): number {
  const invalid = () => badInput("Invalid cursor: pass an endCursor from a previous page", "after");
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  const position = (payload as { p?: unknown } | null)?.p;
  if (typeof position !== "number" || !Number.isSafeInteger(position) || position < 0) throw invalid();
  return position;
}

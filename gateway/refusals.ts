import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from "fastify";
import type { Logger } from "pino";
import { type ErrorCode, errorBody, errorShapeOf, GRAPHQL_PATH, statusFor } from "./errors.ts";

/*
 * Every refusal that Fastify or Node would otherwise word themselves, in the contract's shapes:
 * bodies over the limit, bodies that are not JSON, unknown paths and methods, URLs that do not
 * decode, headers too large. And the one rule that makes a refusal readable at all: the rest of a
 * refused body is read (within a bound) before the answer goes out, so the client is not cut off
 * while still sending.
 */

/** A refused request's unread body is read at most this far before the connection is closed. */
export const REFUSED_BODY_DRAIN_BYTES = 16 * 1024 * 1024;
/** …and for at most this long. */
export const REFUSED_BODY_DRAIN_MS = 2000;

/**
 * JSON nested deeper than this is refused before it is parsed: everything that later walks the
 * value (variable coercion, cloning, the guards) recurses, and 100 000 brackets would overflow the
 * stack into a 500. Real variables and bodies stay far below.
 */
export const MAX_JSON_DEPTH = 64;

/** True when `text` (JSON, or anything) opens more than `max` arrays/objects at once outside strings. */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** A JSON body or parameter nested deeper than MAX_JSON_DEPTH. */
class JsonTooDeepError extends Error {
  readonly code = "GATEWAY_JSON_TOO_DEEP";
  readonly statusCode = 400;
}

/** Fastify's own error codes a client can cause, and what the contract calls them. */
const FASTIFY_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "UNSUPPORTED_MEDIA_TYPE", message: "The body must be application/json" },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "PAYLOAD_TOO_LARGE", message: "The body is too large" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "BAD_REQUEST", message: "The JSON body is empty" },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "BAD_REQUEST", message: "The body is not valid JSON" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "BAD_REQUEST", message: "Content-Length does not match the body" },
  FST_ERR_CTP_INVALID_CONTENT_TYPE: { code: "UNSUPPORTED_MEDIA_TYPE", message: "The Content-Type is not valid" },
  FST_ERR_BAD_URL: { code: "BAD_REQUEST", message: "The URL does not decode" },
  FST_ERR_ASYNC_CONSTRAINT: { code: "BAD_REQUEST", message: "The request could not be routed" },
  GATEWAY_JSON_TOO_DEEP: { code: "BAD_REQUEST", message: `The JSON is nested deeper than ${MAX_JSON_DEPTH} levels` },
};

/** The contract's code for an error Fastify raised on a client's behalf; null for the gateway's own failures. */
export function fastifyRefusal(error: FastifyError): { code: ErrorCode; message: string } | null {
  const known = error.code ? FASTIFY_ERRORS[error.code] : undefined;
  if (known) return known;
  if (error instanceof SyntaxError) return FASTIFY_ERRORS.FST_ERR_CTP_INVALID_JSON_BODY!;
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return { code: "BAD_REQUEST", message: "The request could not be read" };
  }
  return null;
}

/** Sends a refusal in the shape of its route, never cached. */
export function sendRefusal(
  request: FastifyRequest,
  reply: FastifyReply,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
): FastifyReply {
  const path = request.url.split("?")[0] ?? "";
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  return reply
    .code(statusFor(code))
    .header("cache-control", "no-store")
    .type("application/json; charset=utf-8")
    .send(JSON.stringify(errorBody(errorShapeOf(path), code, message)));
}

/**
 * Reads and discards the rest of a request body nobody will read, up to the bounds; resolves when
 * the body has ended (true) or a bound was hit (false).
 */
export function drainBody(raw: IncomingMessage, maxBytes = REFUSED_BODY_DRAIN_BYTES, maxMs = REFUSED_BODY_DRAIN_MS) {
  return new Promise<boolean>((resolve) => {
    if (raw.complete || raw.readableEnded || raw.destroyed) return resolve(raw.complete || raw.readableEnded);
    let read = 0;
    const finish = (ended: boolean) => {
      clearTimeout(timer);
      raw.removeListener("data", onData);
      raw.removeListener("end", onEnd);
      raw.removeListener("error", onError);
      raw.removeListener("close", onError);
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > maxBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = () => finish(false);
    const timer = setTimeout(() => finish(false), maxMs);
    raw.on("data", onData);
    raw.once("end", onEnd);
    raw.once("error", onError);
    raw.once("close", onError);
    raw.resume();
  });
}

/**
 * Fastify's `frameworkErrors`: a URL that does not decode (`/api/%zz`) is a contract 400 in the
 * shape of its route, not Fastify's own body.
 */
export const frameworkErrors: NonNullable<FastifyServerOptions["frameworkErrors"]> = (error, request, reply) => {
  const refusal = fastifyRefusal(error as FastifyError) ?? { code: "BAD_REQUEST" as const, message: "Bad request" };
  sendRefusal(request, reply, refusal.code, refusal.message);
};

/**
 * Fastify's `clientErrorHandler`: a request Node's parser refuses (headers too large, malformed
 * HTTP) gets a JSON body with a contract code instead of a bare status line.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) return void socket.destroy();
  const tooLarge = error.code === "HPE_HEADER_OVERFLOW";
  const status = tooLarge ? 431 : 400;
  const code: ErrorCode = tooLarge ? "HEADERS_TOO_LARGE" : "BAD_REQUEST";
  const body = JSON.stringify(
    errorBody("rest", code, tooLarge ? "The request headers are too large" : "The request is malformed"),
  );
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
      `Connection: close\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export interface RefusalOptions {
  logger: Logger;
}

/**
 * Installs the refusals on the root instance: the drain before any refusal goes out, the error and
 * not-found handlers (plugins with their own, like the REST shim, keep them), and 405 for the
 * methods `/graphql` does not take.
 */
export function installRefusals(app: FastifyInstance, options: RefusalOptions): void {
  app.addHook("onSend", async (request, reply, payload) => {
    if (reply.statusCode < 400 || request.raw.complete) return payload;
    // An unread body: read it before answering, so the client gets to read the answer.
    if (!(await drainBody(request.raw))) reply.header("connection", "close");
    return payload;
  });

  // Fastify's JSON parser (with its prototype-poisoning checks), after a linear depth check.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (jsonTooDeep(body as string)) return done(new JsonTooDeepError("JSON nested too deeply"), undefined);
    parseJson(request, body as string, done);
  });
  // The same for the JSON in GET /graphql's `variables` and `extensions`.
  app.addHook("preValidation", async (request) => {
    if (request.method !== "GET" || !request.url.startsWith(GRAPHQL_PATH)) return;
    const query = request.query as Record<string, unknown>;
    for (const name of ["variables", "extensions"]) {
      const value = query[name];
      if (typeof value === "string" && jsonTooDeep(value)) throw new JsonTooDeepError("JSON nested too deeply");
    }
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const refusal = fastifyRefusal(error);
    if (refusal) return sendRefusal(request, reply, refusal.code, refusal.message);
    options.logger.error({ err: error, url: request.url }, "request failed");
    return sendRefusal(request, reply, "INTERNAL_SERVER_ERROR", "Internal server error");
  });

  app.setNotFoundHandler((request, reply) =>
    sendRefusal(request, reply, "NOT_FOUND", `No route ${request.method} ${request.url.split("?")[0]}`),
  );

  // GraphQL over HTTP: a method the endpoint does not take is 405 with the ones it does.
  app.route({
    method: ["PUT", "PATCH", "DELETE"],
    url: GRAPHQL_PATH,
    handler: (request, reply) =>
      sendRefusal(request, reply, "METHOD_NOT_ALLOWED", `${request.method} is not allowed on ${GRAPHQL_PATH}`, {
        allow: "GET, POST",
      }),
  });
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { type ClientCredentials, OAuthError, type OAuthServer } from "./oauth.ts";

export const OAUTH_TOKEN_PATH = "/oauth/token";
export const OAUTH_INTROSPECT_PATH = "/oauth/introspect";
export const OAUTH_REVOKE_PATH = "/oauth/revoke";

export interface OAuthRoutesOptions {
  oauth: OAuthServer;
  log?: Pick<Logger, "error">;
  /** Largest accepted form body. @default 8192 */
  bodyLimitBytes?: number;
}

const FORM = "application/x-www-form-urlencoded";

/** Form parameters, refusing repeated ones (RFC 6749 §3.1: parameters must not be sent twice). */
function param(form: URLSearchParams, name: string): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw new OAuthError("invalid_request", 400, `${name} must be sent once`);
  return values[0];
}

function required(form: URLSearchParams, name: string): string {
  const value = param(form, name);
  if (value === undefined || value === "") throw new OAuthError("invalid_request", 400, `${name} is required`);
  return value;
}

/** `client_id:client_secret`, each form-encoded, in Basic (RFC 6749 §2.3.1). */
function basicCredentials(header: string): ClientCredentials {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  const decoded = match ? Buffer.from(match[1]!, "base64").toString("utf8") : "";
  const colon = decoded.indexOf(":");
  if (colon < 1) throw new OAuthError("invalid_client", 401, "Malformed Basic credentials");
  const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, " "));
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw new OAuthError("invalid_client", 401, "Malformed Basic credentials");
  }
}

/** client_secret_basic or client_secret_post — one of them, never both (RFC 6749 §2.3). */
function credentialsOf(request: FastifyRequest, form: URLSearchParams): ClientCredentials | null {
  const header = request.headers.authorization;
  const clientId = param(form, "client_id");
  const secret = param(form, "client_secret");
  if (header !== undefined) {
    if (secret !== undefined) throw new OAuthError("invalid_request", 400, "Use one client authentication method");
    const credentials = basicCredentials(header);
    if (clientId !== undefined && clientId !== credentials.clientId) {
      throw new OAuthError("invalid_request", 400, "client_id does not match the authenticated client");
    }
    return credentials;
  }
  if (clientId === undefined || secret === undefined) return null;
  return { clientId, secret };
}

function formOf(request: FastifyRequest): URLSearchParams {
  if (!(request.body instanceof URLSearchParams)) {
    throw new OAuthError("invalid_request", 400, `The body must be ${FORM}`);
  }
  return request.body;
}

/** Every answer of these endpoints holds or concerns credentials: never cached (RFC 6749 §5.1). */
function noStore(reply: FastifyReply): FastifyReply {
  return reply.header("cache-control", "no-store").header("pragma", "no-cache");
}

/**
 * The OAuth 2.0 endpoints of the users service, in their own Fastify scope so that the form-body
 * parser applies only here: `/oauth/token` (client-credentials grant, RFC 6749 §4.4),
 * `/oauth/introspect` (RFC 7662) and `/oauth/revoke` (RFC 7009).
 */
export async function oauthRoutes(app: FastifyInstance, options: OAuthRoutesOptions): Promise<void> {
  const { oauth } = options;
  app.addContentTypeParser(FORM, { parseAs: "string", bodyLimit: options.bodyLimitBytes ?? 8192 }, (_r, body, done) =>
    done(null, new URLSearchParams(body as string)),
  );
  // Any other body is answered as an OAuth invalid_request rather than Fastify's own 415.
  app.addContentTypeParser("*", { parseAs: "string", bodyLimit: options.bodyLimitBytes ?? 8192 }, (_r, _b, done) =>
    done(null, null),
  );

  app.setErrorHandler((error, request, reply) => {
    noStore(reply);
    if (error instanceof OAuthError) {
      if (error.error === "invalid_client") reply.header("www-authenticate", 'Basic realm="oauth", charset="UTF-8"');
      return reply.code(error.status).send({ error: error.error, error_description: error.message });
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) {
      return reply.code(status).send({ error: "invalid_request", error_description: "Malformed request" });
    }
    (options.log ?? request.log).error({ err: error }, "oauth endpoint failed");
    return reply.code(500).send({ error: "server_error" });
  });

  app.post(OAUTH_TOKEN_PATH, async (request, reply) => {
    const form = formOf(request);
    const grantType = required(form, "grant_type");
    const scope = param(form, "scope");
    const credentials = credentialsOf(request, form);
    if (grantType !== "client_credentials") {
      throw new OAuthError("unsupported_grant_type", 400, "Only client_credentials is supported");
    }
    const client = await oauth.authenticate(credentials);
    return noStore(reply).send(await oauth.issue(client, scope));
  });

  app.post(OAUTH_INTROSPECT_PATH, async (request, reply) => {
    const form = formOf(request);
    const credentials = credentialsOf(request, form);
    const token = required(form, "token");
    param(form, "token_type_hint");
    const caller = await oauth.authenticate(credentials);
    return noStore(reply).send(await oauth.introspect(caller, token));
  });

  app.post(OAUTH_REVOKE_PATH, async (request, reply) => {
    const form = formOf(request);
    const credentials = credentialsOf(request, form);
    const token = required(form, "token");
    param(form, "token_type_hint");
    const client = await oauth.authenticate(credentials);
    await oauth.revoke(client, token);
    return noStore(reply).code(200).send();
  });
}

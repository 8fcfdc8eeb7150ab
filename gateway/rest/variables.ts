import {
  coerceInputValue,
  type GraphQLInputType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  typeFromAST,
} from "graphql";
import { type CompiledRoute, inputTypeAt, variableOf } from "./compile.ts";
import { RestError } from "./http.ts";

/** What the variables are read from: Fastify's parsed request, reduced to plain data. */
export interface RestInput {
  params: Record<string, string | undefined>;
  query: Record<string, string | string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

const INT_PATTERN = /^[+-]?\d+$/;
const FLOAT_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Converts one text parameter to the value of its GraphQL type, or refuses it naming the
 * parameter. Types are the operation variable's: `Int` must be a 32-bit integer, `Boolean` is
 * `true`/`false`, enums are their values, `ID` and `String` are the text.
 */
export function parseParameter(name: string, raw: string, type: GraphQLInputType | null): unknown {
  const named = type && getNamedType(type);
  if (named === null || (type && isListType(isNonNullType(type) ? type.ofType : type))) return raw;
  const refuse = (what: string): never => {
    throw new RestError("BAD_USER_INPUT", `Parameter "${name}" must be ${what}`, { field: name });
  };
  if (isEnumType(named)) {
    if (!named.getValue(raw))
      refuse(
        `one of ${named
          .getValues()
          .map((v) => v.name)
          .join(", ")}`,
      );
    return raw;
  }
  if (!isScalarType(named)) return raw;
  switch (named.name) {
    case "Int": {
      const value = Number(raw);
      if (!INT_PATTERN.test(raw) || value > 2_147_483_647 || value < -2_147_483_648) refuse("an integer");
      return value;
    }
    case "Float":
      if (!FLOAT_PATTERN.test(raw)) refuse("a number");
      return Number(raw);
    case "Boolean":
      if (raw !== "true" && raw !== "false") refuse("true or false");
      return raw === "true";
    default:
      if (raw === "") refuse("non-empty");
      return raw;
  }
}

function single(name: string, value: string | string[] | undefined): string | undefined {
  if (!Array.isArray(value)) return value;
  if (value.length === 1) return value[0];
  throw new RestError("BAD_USER_INPUT", `Parameter "${name}" must be given once`, { field: name });
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null) node[key] = {};
    else if (typeof next !== "object" || Array.isArray(next)) {
      throw new RestError("BAD_USER_INPUT", `Body field "${keys.slice(1).join(".")}" cannot be set`, { field: key });
    }
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

function getPath(target: Record<string, unknown>, path: string): unknown {
  let node: unknown = target;
  for (const key of path.split("."))
    node = node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined;
  return node;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Validates a body value against its GraphQL input type and refuses the first problem in REST
 * words (`Body field "items[0].quantity" ...`), so clients never see GraphQL variable syntax.
 */
function checkBodyValue(prefix: string[], value: unknown, type: GraphQLInputType): void {
  coerceInputValue(value, type, (path, _invalid, error) => {
    const at = [...prefix, ...path];
    const missing = /^Field "([^"]+)" of required type/.exec(error.message)?.[1];
    if (missing) at.push(missing);
    const unknown = /^Field "([^"]+)" is not defined by type/.exec(error.message)?.[1];
    if (unknown) at.push(unknown);
    const field = at.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s ? `${s}.${k}` : k), "");
    const reason = missing ? "is required" : unknown ? "is not a known field" : `is invalid: ${detail(error.message)}`;
    throw new RestError("BAD_USER_INPUT", field ? `Body field "${field}" ${reason}` : `Body ${reason}`, {
      ...(field && { field }),
    });
  });
}

/** graphql-js wording without the GraphQL type syntax that means nothing to a REST client. */
function detail(message: string): string {
  return message.replace(/^Expected type "[^"]+"\. /, "").replace(/;.*$/, "");
}

/**
 * Builds the operation variables of a route from path, query, header and body, each converted
 * to its GraphQL type. Refusals are BAD_USER_INPUT (400) naming the parameter or body field.
 * Without a schema (none loaded yet) values pass as text and the pipeline judges them.
 */
export function buildVariables(compiled: CompiledRoute, schema: GraphQLSchema | undefined, input: RestInput) {
  const { route } = compiled;
  const variables: Record<string, unknown> = {};

  if (route.body) {
    const body = input.body ?? {};
    if (!isObject(body)) throw new RestError("BAD_USER_INPUT", "The body must be a JSON object");
    if (route.body.variable !== undefined) {
      variables[route.body.variable] = structuredClone(body);
    } else {
      for (const key of Object.keys(body)) {
        if (!compiled.bodyMembers.includes(key)) {
          throw new RestError("BAD_USER_INPUT", `Body field "${key}" is not a known field`, { field: key });
        }
        variables[key] = body[key];
      }
    }
  }

  // A parameter the route does not take is refused, not ignored: a misspelt `frist` would
  // otherwise silently give the default page.
  const known = new Set((route.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name));
  for (const name of Object.keys(input.query)) {
    if (!known.has(name)) throw new RestError("BAD_USER_INPUT", `Parameter "${name}" is not known`, { field: name });
  }

  for (const parameter of route.parameters ?? []) {
    const path = variableOf(parameter);
    const type = schema ? inputTypeAt(schema, compiled, path) : null;
    const source = parameter.in === "path" ? input.params : parameter.in === "query" ? input.query : input.headers;
    const raw = single(
      parameter.name,
      source[parameter.in === "header" ? parameter.name.toLowerCase() : parameter.name],
    );
    if (raw === undefined) continue;
    const value = parseParameter(parameter.name, raw, type);
    const existing = getPath(variables, path);
    if (existing !== undefined && existing !== value) {
      // Said twice (header and body field) and differently: neither can be trusted to be the retry key.
      throw new RestError("BAD_USER_INPUT", `Parameter "${parameter.name}" disagrees with the body`, {
        field: parameter.name,
      });
    }
    setPath(variables, path, value);
  }

  if (schema) {
    for (const [name, node] of compiled.variables) {
      const type = typeFromAST(schema, node as Parameters<typeof typeFromAST>[1]) as GraphQLInputType | undefined;
      if (!type) continue;
      const value = variables[name];
      if (value === undefined) {
        if (!isNonNullType(type)) continue;
        const parameter = route.parameters?.find((p) => variableOf(p) === name);
        if (parameter) {
          throw new RestError("BAD_USER_INPUT", `Parameter "${parameter.name}" is required`, { field: parameter.name });
        }
        if (route.body?.variable === name && isInputObjectType(getNamedType(type))) {
          checkBodyValue([], {}, type);
        }
        throw new RestError("BAD_USER_INPUT", `Body field "${name}" is required`, { field: name });
      }
      const inBody = route.body !== undefined && (route.body.variable === name || compiled.bodyMembers.includes(name));
      if (inBody) checkBodyValue(route.body?.variable === name ? [] : [name], value, type);
    }
  }
  return variables;
}

import {
  type FieldNode,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  type SelectionSetNode,
  typeFromAST,
} from "graphql";
import { ERROR_CODES } from "../errors.ts";
import { type CompiledRoute, inputTypeAt, variableOf } from "./compile.ts";

type Schema = Record<string, unknown>;

const SCALARS: Record<string, Schema> = {
  ID: { type: "string" },
  String: { type: "string" },
  Int: { type: "integer", format: "int32" },
  Float: { type: "number", format: "double" },
  Boolean: { type: "boolean" },
};

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

function nullable(schema: Schema): Schema {
  if (typeof schema.type === "string" && schema.enum === undefined) return { ...schema, type: [schema.type, "null"] };
  return { oneOf: [schema, { type: "null" }] };
}

function described(schema: Schema, description: string | null | undefined): Schema {
  return description ? { ...schema, description } : schema;
}

/** Generates the OpenAPI 3.1 document for the route table over the served API schema. */
export function buildOpenApi(schema: GraphQLSchema, routes: readonly CompiledRoute[]): Schema {
  const components: Record<string, Schema> = {};

  function scalarOrEnum(named: GraphQLNamedType): Schema {
    if (isEnumType(named)) {
      components[named.name] ??= described(
        { type: "string", enum: named.getValues().map((v) => v.name) },
        named.description,
      );
      return ref(named.name);
    }
    return described(SCALARS[named.name] ?? {}, SCALARS[named.name] ? null : `GraphQL scalar ${named.name}`);
  }

  /** GraphQL input types become named components; `optional` lifts `required` for named fields. */
  function inputSchema(type: GraphQLInputType, optional: ReadonlySet<string> = new Set()): Schema {
    if (isNonNullType(type)) return inputSchema(type.ofType, optional);
    const inner = (t: GraphQLInputType): Schema =>
      isNonNullType(t) ? inputSchema(t.ofType) : nullable(inputSchema(t));
    if (isListType(type)) return { type: "array", items: inner(type.ofType) };
    if (!isInputObjectType(type)) return scalarOrEnum(type);
    const build = (): Schema => {
      const fields = Object.values(type.getFields());
      const required = fields.filter(
        (f) => isNonNullType(f.type) && f.defaultValue === undefined && !optional.has(f.name),
      );
      return described(
        {
          type: "object",
          properties: Object.fromEntries(fields.map((f) => [f.name, described(inner(f.type), f.description)])),
          ...(required.length > 0 && { required: required.map((f) => f.name) }),
          additionalProperties: false,
        },
        type.description,
      );
    };
    if (optional.size > 0) return build();
    if (!components[type.name]) {
      components[type.name] = {};
      components[type.name] = build();
    }
    return ref(type.name);
  }

  /** Output schemas follow the route's selection set: exactly the fields the route returns. */
  function outputSchema(type: GraphQLOutputType, selection: SelectionSetNode | undefined): Schema {
    if (isNonNullType(type)) return outputSchema(type.ofType, selection);
    const inner = (t: GraphQLOutputType): Schema =>
      isNonNullType(t) ? outputSchema(t.ofType, selection) : nullable(outputSchema(t, selection));
    if (isListType(type)) return { type: "array", items: inner(type.ofType) };
    if (!isObjectType(type) || !selection) return scalarOrEnum(getNamedType(type));
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    for (const node of selection.selections) {
      if (node.kind !== "Field") continue;
      const field = type.getFields()[node.name.value];
      if (!field) continue;
      const key = node.alias?.value ?? node.name.value;
      const value = isNonNullType(field.type)
        ? outputSchema(field.type, node.selectionSet)
        : nullable(outputSchema(field.type, node.selectionSet));
      properties[key] = described(value, field.description);
      if (isNonNullType(field.type)) required.push(key);
    }
    return described({ type: "object", title: type.name, properties, required }, type.description);
  }

  /** The field at the route's `result` path, with its selection. */
  function resultField(compiled: CompiledRoute): { field: GraphQLField<unknown, unknown>; node: FieldNode } {
    let parent = compiled.operation.operation === "query" ? schema.getQueryType() : schema.getMutationType();
    let selection: SelectionSetNode | undefined = compiled.operation.selectionSet;
    let found: { field: GraphQLField<unknown, unknown>; node: FieldNode } | undefined;
    for (const key of compiled.route.result.split(".")) {
      const node: FieldNode | undefined = selection?.selections.find(
        (s): s is FieldNode => s.kind === "Field" && (s.alias?.value ?? s.name.value) === key,
      );
      const field = node && parent?.getFields()[node.name.value];
      if (!node || !field)
        throw new Error(`REST route ${compiled.route.id}: ${compiled.route.result} is not in the schema`);
      found = { field, node };
      selection = node.selectionSet;
      const named = getNamedType(field.type);
      parent = isObjectType(named) ? named : null;
    }
    return found!;
  }

  const paths: Record<string, Record<string, Schema>> = {};
  for (const compiled of routes) {
    const { route } = compiled;
    const { field, node } = resultField(compiled);
    const success = outputSchema(field.type, node.selectionSet);
    const responseSchema: Schema =
      route.method === "POST" && success.type === "object"
        ? { ...success, properties: { ...(success.properties as object), errors: ref("PartialErrors") } }
        : success;

    const bodyBound = new Set(
      (route.parameters ?? [])
        .map(variableOf)
        .filter((v) => route.body?.variable !== undefined && v.startsWith(`${route.body.variable}.`))
        .map((v) => v.slice(route.body!.variable!.length + 1)),
    );
    const parameters = (route.parameters ?? []).map((parameter) => {
      const type = inputTypeAt(schema, compiled, variableOf(parameter));
      const required = parameter.in === "path" || (isNonNullType(type) && !variableOf(parameter).includes("."));
      return {
        name: parameter.name,
        in: parameter.in,
        required,
        description: parameter.description,
        schema: type ? inputSchema(type) : { type: "string" },
      };
    });

    let requestBody: Schema | undefined;
    if (route.body) {
      let bodySchema: Schema;
      if (route.body.variable !== undefined) {
        const type = inputTypeAt(schema, compiled, route.body.variable);
        if (!type) throw new Error(`REST route ${route.id}: $${route.body.variable} has no type in the schema`);
        bodySchema = inputSchema(type, bodyBound);
      } else {
        const members = compiled.bodyMembers.map((name) => {
          const type = typeFromAST(schema, compiled.variables.get(name)! as Parameters<typeof typeFromAST>[1]);
          return { name, type: type as GraphQLInputType };
        });
        bodySchema = {
          type: "object",
          properties: Object.fromEntries(members.map((m) => [m.name, inputSchema(m.type)])),
          required: members.filter((m) => isNonNullType(m.type)).map((m) => m.name),
          additionalProperties: false,
        };
      }
      requestBody = {
        required: true,
        description: route.body.description,
        content: { "application/json": { schema: bodySchema } },
      };
    }

    const status = String(route.status ?? 200);
    const successHeaders: Record<string, Schema> = {};
    if (route.method === "GET") {
      successHeaders.ETag = ref2("headers", "ETag");
      successHeaders["Cache-Control"] = ref2("headers", "CacheControl");
    }
    if (route.location) successHeaders.Location = ref2("headers", "Location");
    if (route.pagination) successHeaders.Link = ref2("headers", "Link");

    const responses: Record<string, Schema> = {
      [status]: {
        description: route.status === 201 ? "Created" : "OK",
        ...(Object.keys(successHeaders).length > 0 && { headers: successHeaders }),
        content: { "application/json": { schema: responseSchema } },
      },
    };
    if (route.method === "GET") responses["304"] = ref2("responses", "NotModified");
    responses["400"] = ref2("responses", "BadRequest");
    responses["401"] = ref2("responses", "Unauthorized");
    if (route.auth === "required") responses["403"] = ref2("responses", "Forbidden");
    if (route.method === "GET" || route.body?.variable === "input") responses["404"] = ref2("responses", "NotFound");
    if (route.id === "processPayment") responses["402"] = ref2("responses", "PaymentDeclined");
    if (route.id === "placeOrder") responses["409"] = ref2("responses", "InsufficientStock");
    if (route.body) {
      responses["413"] = ref2("responses", "PayloadTooLarge");
      responses["415"] = ref2("responses", "UnsupportedMediaType");
    }
    responses["429"] = ref2("responses", "TooManyRequests");
    responses["500"] = ref2("responses", "InternalServerError");
    responses["503"] = ref2("responses", "ServiceUnavailable");

    const operation: Schema = {
      operationId: route.id,
      summary: route.summary,
      description: `Runs the GraphQL operation \`${compiled.operationName}\` (\`${route.result}\`).`,
      tags: [route.path.split("/")[2]!],
      security: route.auth === "required" ? [{ bearerAuth: [] }] : [{}, { bearerAuth: [] }],
      ...(parameters.length > 0 && { parameters }),
      ...(requestBody && { requestBody }),
      responses,
    };
    paths[compiled.openApiPath] ??= {};
    paths[compiled.openApiPath]![route.method.toLowerCase()] = operation;
  }
  paths["/api/openapi.json"] = {
    get: {
      operationId: "getOpenApi",
      summary: "This document",
      tags: ["meta"],
      security: [{}],
      responses: {
        "200": {
          description: "The OpenAPI 3.1 description of the REST API",
          content: { "application/json": { schema: { type: "object" } } },
        },
        "304": ref2("responses", "NotModified"),
      },
    },
  };

  const errorResponse = (description: string, extraHeaders: Record<string, Schema> = {}): Schema => ({
    description,
    ...(Object.keys(extraHeaders).length > 0 && { headers: extraHeaders }),
    content: { "application/json": { schema: ref("Error") } },
  });

  return {
    openapi: "3.1.0",
    info: {
      title: "Shop REST API",
      version: "1.0.0",
      description:
        "The legacy REST paths, served by the GraphQL gateway: each route runs one GraphQL operation through the same authentication, limits and logging as /graphql.",
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    security: [{}, { bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "A token from POST /api/users/login or POST /api/users.",
        },
      },
      schemas: {
        ...components,
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message"],
              properties: {
                code: { type: "string", enum: Object.keys(ERROR_CODES) },
                message: { type: "string" },
                field: { type: "string", description: "The parameter or body field at fault." },
                retryAfter: { type: "integer", description: "Seconds to wait (RATE_LIMITED)." },
                productId: { type: "string" },
                requested: { type: "integer" },
                available: { type: "integer" },
                declineCode: { type: "string" },
              },
            },
          },
        },
        PartialErrors: {
          type: "array",
          description:
            "Present only when the operation succeeded but part of the answer could not be read; the fields concerned are null.",
          items: {
            type: "object",
            required: ["code", "message"],
            properties: {
              code: { type: "string" },
              message: { type: "string" },
              path: { type: "array", items: { type: ["string", "integer"] } },
            },
          },
        },
      },
      headers: {
        ETag: { description: "Strong validator; send it back as If-None-Match.", schema: { type: "string" } },
        CacheControl: {
          description: "`private, no-store` for any request with credentials; `no-cache` otherwise.",
          schema: { type: "string" },
        },
        Location: { description: "The created resource.", schema: { type: "string", format: "uri-reference" } },
        Link: { description: 'The next page: `<...>; rel="next"`.', schema: { type: "string" } },
        RetryAfter: { description: "Seconds until a retry may succeed.", schema: { type: "integer" } },
        RateLimit: { description: "Remaining quota (IETF RateLimit header fields).", schema: { type: "string" } },
        RateLimitPolicy: { description: "The quota policy.", schema: { type: "string" } },
        WWWAuthenticate: { description: "The bearer challenge.", schema: { type: "string" } },
        Allow: { description: "The methods the path supports.", schema: { type: "string" } },
      },
      responses: {
        NotModified: { description: "The representation matching If-None-Match is still current." },
        BadRequest: errorResponse("BAD_USER_INPUT, BAD_REQUEST or an operation shape limit"),
        Unauthorized: errorResponse("UNAUTHENTICATED: no token where one is needed, or an invalid token", {
          "WWW-Authenticate": ref2("headers", "WWWAuthenticate"),
        }),
        Forbidden: errorResponse("FORBIDDEN: authenticated but not allowed"),
        NotFound: errorResponse("NOT_FOUND: the resource does not exist"),
        PaymentDeclined: errorResponse("PAYMENT_DECLINED: the provider declined the payment method"),
        InsufficientStock: errorResponse("INSUFFICIENT_STOCK: not enough stock for an order line"),
        PayloadTooLarge: errorResponse("PAYLOAD_TOO_LARGE: the body is over the size limit"),
        UnsupportedMediaType: errorResponse("UNSUPPORTED_MEDIA_TYPE: the body is not application/json"),
        TooManyRequests: errorResponse("RATE_LIMITED", {
          "Retry-After": ref2("headers", "RetryAfter"),
          RateLimit: ref2("headers", "RateLimit"),
          "RateLimit-Policy": ref2("headers", "RateLimitPolicy"),
        }),
        InternalServerError: errorResponse("INTERNAL_SERVER_ERROR"),
        ServiceUnavailable: errorResponse("SUBGRAPH_UNAVAILABLE: a service needed for the answer cannot be reached"),
      },
    },
  };
}

function ref2(kind: "headers" | "responses", name: string): Schema {
  return { $ref: `#/components/${kind}/${name}` };
}

import {
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
  getNamedType,
  isInputObjectType,
  Kind,
  type OperationDefinitionNode,
  parse,
  type TypeNode,
  typeFromAST,
  validate,
} from "graphql";
import type { RestRoute, RouteParameter } from "./routes.ts";

/** A route with its operation parsed once; the schema-dependent parts are resolved per schema. */
export interface CompiledRoute {
  readonly route: RestRoute;
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  readonly operationName: string;
  /** The operation's variables in declaration order, with their type syntax. */
  readonly variables: ReadonlyMap<string, TypeNode>;
  /** Operation variables a spread body (no `body.variable`) supplies. */
  readonly bodyMembers: readonly string[];
  /** Path pattern in OpenAPI syntax (`/api/users/{id}`). */
  readonly openApiPath: string;
}

/** Parses and cross-checks the route table; a table that cannot work fails at start-up. */
export function compileRoutes(routes: readonly RestRoute[]): CompiledRoute[] {
  const ids = new Set<string>();
  const endpoints = new Set<string>();
  return routes.map((route) => {
    const where = `REST route ${route.id} (${route.method} ${route.path})`;
    if (ids.has(route.id)) throw new Error(`${where}: duplicate id`);
    ids.add(route.id);
    if (endpoints.has(`${route.method} ${route.path}`)) throw new Error(`${where}: duplicate method and path`);
    endpoints.add(`${route.method} ${route.path}`);
    if (!route.path.startsWith("/api/")) throw new Error(`${where}: paths live under /api/`);

    const document = parse(route.operation);
    const operations = document.definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === "OperationDefinition",
    );
    const operation = operations[0];
    if (operations.length !== 1 || !operation?.name) throw new Error(`${where}: needs exactly one named operation`);
    const expected = route.method === "GET" ? "query" : "mutation";
    if (operation.operation !== expected) throw new Error(`${where}: a ${route.method} route runs a ${expected}`);

    const variables = new Map(operation.variableDefinitions?.map((d) => [d.variable.name.value, d.type]) ?? []);
    const pathParams = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const bound = new Set<string>();
    for (const parameter of route.parameters ?? []) {
      const root = variableOf(parameter).split(".")[0]!;
      if (!variables.has(root)) throw new Error(`${where}: parameter ${parameter.name} fills no operation variable`);
      if (parameter.in === "path" && !pathParams.includes(parameter.name)) {
        throw new Error(`${where}: path parameter ${parameter.name} is not in the path`);
      }
      if (!variableOf(parameter).includes(".")) bound.add(root);
    }
    for (const name of pathParams) {
      if (!route.parameters?.some((p) => p.in === "path" && p.name === name)) {
        throw new Error(`${where}: path parameter ${name} is not declared`);
      }
    }
    if (route.body?.variable !== undefined && !variables.has(route.body.variable)) {
      throw new Error(`${where}: the body fills no operation variable`);
    }
    const bodyMembers =
      route.body && route.body.variable === undefined ? [...variables.keys()].filter((v) => !bound.has(v)) : [];
    if (route.method === "GET" && route.body) throw new Error(`${where}: a GET route takes no body`);
    for (const name of variables.keys()) {
      const filled = bound.has(name) || bodyMembers.includes(name) || route.body?.variable === name;
      if (!filled && variables.get(name)!.kind === Kind.NON_NULL_TYPE)
        throw new Error(`${where}: nothing fills $${name}`);
    }
    return {
      route,
      document,
      operation,
      operationName: operation.name.value,
      variables,
      bodyMembers,
      openApiPath: route.path.replace(/:(\w+)/g, "{$1}"),
    };
  });
}

export function variableOf(parameter: RouteParameter): string {
  return parameter.variable ?? parameter.name;
}

/** The GraphQL input type at a dotted variable path (`input.idempotencyKey`), or null. */
export function inputTypeAt(schema: GraphQLSchema, compiled: CompiledRoute, path: string): GraphQLInputType | null {
  const [root, ...rest] = path.split(".");
  const node = compiled.variables.get(root!);
  if (!node) return null;
  let type = typeFromAST(schema, node as Parameters<typeof typeFromAST>[1]) as GraphQLInputType | undefined;
  for (const field of rest) {
    const named = type && getNamedType(type);
    if (!named || !isInputObjectType(named)) return null;
    type = named.getFields()[field]?.type;
  }
  return type ?? null;
}

/** Operations that do not validate against the served schema: the shim and the schema disagree. */
export function checkAgainstSchema(schema: GraphQLSchema, routes: readonly CompiledRoute[]): string[] {
  const problems: string[] = [];
  for (const compiled of routes) {
    for (const error of validate(schema, compiled.document)) problems.push(`${compiled.route.id}: ${error.message}`);
  }
  return problems;
}

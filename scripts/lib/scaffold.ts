/**
 * The files of a new subgraph, in the shape of the existing ones and built on the service kit
 * (`subgraphs/kit/`): schema.graphql, migrations (storage), a repository, per-request DataLoaders,
 * resolvers, server.ts that builds it with createSubgraphService(), index.ts that runs it with
 * runService(), and a test that starts it on port 0.
 */

export interface Names {
  /** Folder and subgraph name: `gift-cards`. */
  name: string;
  /** Entity type: `GiftCard`. */
  type: string;
  /** Single-entity query field and loader: `giftCard`. */
  one: string;
  /** List query field: `giftCards`. */
  many: string;
  /** Table: `gift_cards`. */
  table: string;
  /** Builder exported by server.ts: `createGiftCardsService`. */
  factory: string;
  /** `GiftCards`, for type names of the service. */
  pascal: string;
}

export const NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
/** Folders under subgraphs/ that are not subgraphs, and names the stack already uses. */
export const RESERVED_NAMES = new Set([
  "kit",
  "shared",
  "gateway",
  "provider-sandbox",
  "sandbox",
  "common",
  "schema",
  "test",
]);

const pascalCase = (name: string) =>
  name
    .split("-")
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join("");
const camelCase = (name: string) => {
  const pascal = pascalCase(name);
  return pascal[0]!.toLowerCase() + pascal.slice(1);
};
/** `reviews` → `review`, `gift-cards` → `gift-card`; a name not ending in one plain `s` stays. */
const singular = (name: string) => (/[^s]s$/.test(name) ? name.slice(0, -1) : name);

export function namesFor(name: string): Names {
  const one = camelCase(singular(name));
  const many = camelCase(name) === one ? `${one}List` : camelCase(name);
  return {
    name,
    type: pascalCase(singular(name)),
    one,
    many,
    table: name.replace(/-/g, "_"),
    factory: `create${pascalCase(name)}Service`,
    pascal: pascalCase(name),
  };
}

export function scaffoldFiles(n: Names, port: number): Record<string, string> {
  const dir = `subgraphs/${n.name}`;
  return {
    [`${dir}/schema.graphql`]: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@authenticated"])

type Query {
  ${n.one}(id: ID!): ${n.type}
  "Newest first. \`first\` is 1 to 100 (default 20)."
  ${n.many}(first: Int): [${n.type}!]!
}

type Mutation {
  "Signed-in users only."
  create${n.type}(input: Create${n.type}Input!): ${n.type}! @authenticated
}

type ${n.type} @key(fields: "id") {
  id: ID!
  title: String!
  "The user who created it."
  createdBy: ID!
  "ISO 8601."
  createdAt: String!
}

input Create${n.type}Input {
  "1 to 200 characters."
  title: String!
}
`,
    [`${dir}/migrations.ts`]: `import type { Migration } from "../shared/db.ts";

/** The tables as the queries see them (Kysely types). */
export interface ${n.pascal}Tables {
  ${n.table}: {
    id: string;
    title: string;
    created_by: string;
    created_at: string;
  };
}

/** The same on SQLite and PostgreSQL; a migration whose engines differ gives each its own text. */
const ${n.one}Table = \`
      CREATE TABLE ${n.table} (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX ${n.table}_created_at ON ${n.table} (created_at);
    \`;

export const migrations: Migration[] = [{ version: 1, name: "${n.table}", sqlite: ${n.one}Table, postgres: ${n.one}Table }];
`,
    [`${dir}/repository.ts`]: `import { randomUUID } from "node:crypto";
import type { Database } from "../shared/db.ts";
import type { ${n.pascal}Tables } from "./migrations.ts";

export interface ${n.type}Record {
  id: string;
  title: string;
  createdBy: string;
  createdAt: string;
}

/** What the resolvers need from storage. */
export interface ${n.type}Repository {
  /** The records among \`ids\` that exist, in no particular order. */
  findByIds(ids: readonly string[]): Promise<${n.type}Record[]>;
  /** Up to \`limit\` records, newest first. */
  list(limit: number): Promise<${n.type}Record[]>;
  create(title: string, createdBy: string): Promise<${n.type}Record>;
}

const COLUMNS = ["id", "title", "created_by as createdBy", "created_at as createdAt"] as const;

/** One set of queries (Kysely) for SQLite and PostgreSQL alike. */
export class Sql${n.type}Repository implements ${n.type}Repository {
  constructor(private readonly db: Database<${n.pascal}Tables>) {}

  async findByIds(ids: readonly string[]): Promise<${n.type}Record[]> {
    if (ids.length === 0) return [];
    return this.db.kysely.selectFrom("${n.table}").select(COLUMNS).where("id", "in", ids).execute();
  }

  async list(limit: number): Promise<${n.type}Record[]> {
    return this.db.kysely
      .selectFrom("${n.table}")
      .select(COLUMNS)
      .orderBy("created_at", "desc")
      .orderBy("id")
      .limit(limit)
      .execute();
  }

  async create(title: string, createdBy: string): Promise<${n.type}Record> {
    const record = { id: randomUUID(), title, createdBy, createdAt: new Date().toISOString() };
    await this.db.kysely
      .insertInto("${n.table}")
      .values({ id: record.id, title, created_by: createdBy, created_at: record.createdAt })
      .execute();
    return record;
  }
}
`,
    [`${dir}/loaders.ts`]: `import DataLoader from "dataloader";
import type { ${n.type}Record, ${n.type}Repository } from "./repository.ts";

export interface ${n.pascal}Loaders {
  /** By id, null when unknown. Every reference in one request is fetched in one query. */
  ${n.one}: DataLoader<string, ${n.type}Record | null>;
}

export function create${n.pascal}Loaders(repository: ${n.type}Repository): ${n.pascal}Loaders {
  return {
    ${n.one}: new DataLoader(
      async (ids) => {
        const byId = new Map((await repository.findByIds(ids)).map((r) => [r.id, r]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { maxBatchSize: 500 },
    ),
  };
}
`,
    [`${dir}/resolvers.ts`]: `import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { requireUser } from "../kit/identity.ts";
import type { SubgraphContext } from "../kit/server.ts";
import { badInput } from "../shared/errors.ts";
import type { ${n.pascal}Loaders } from "./loaders.ts";
import type { ${n.type}Repository } from "./repository.ts";

type Context = SubgraphContext<${n.pascal}Loaders>;

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
const MAX_TITLE = 200;

export function create${n.pascal}Resolvers(repository: ${n.type}Repository): GraphQLResolverMap<Context> {
  return {
    Query: {
      ${n.one}: (_: unknown, args: { id: string }, ctx: Context) => ctx.loaders.${n.one}.load(args.id),

      ${n.many}: async (_: unknown, args: { first?: number | null }, ctx: Context) => {
        const first = args.first ?? DEFAULT_PAGE_SIZE;
        if (first < 1 || first > MAX_PAGE_SIZE) throw badInput(\`first must be from 1 to \${MAX_PAGE_SIZE}\`, "first");
        const records = await repository.list(first);
        for (const record of records) ctx.loaders.${n.one}.prime(record.id, record);
        return records;
      },
    },

    Mutation: {
      create${n.type}: async (_: unknown, args: { input: { title: string } }, ctx: Context) => {
        // The gateway enforces @authenticated too; a service never relies on that alone.
        const userId = requireUser(ctx.identity);
        const title = args.input.title.trim();
        if (title.length < 1 || title.length > MAX_TITLE) {
          throw badInput(\`title must be 1 to \${MAX_TITLE} characters\`, "title");
        }
        const record = await repository.create(title, userId);
        ctx.log.info({ id: record.id, by: userId }, "${n.one} created");
        return record;
      },
    },

    ${n.type}: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.loaders.${n.one}.load(ref.id),
    },
  };
}
`,
    [`${dir}/server.ts`]: `import { openDatabase } from "../kit/database.ts";
import {
  buildOrRelease,
  createSubgraphService,
  loadTypeDefs,
  type ServiceOptions,
  type SubgraphService,
} from "../kit/server.ts";
import type { Database } from "../shared/db.ts";
import { create${n.pascal}Loaders } from "./loaders.ts";
import { migrations, type ${n.pascal}Tables } from "./migrations.ts";
import { Sql${n.type}Repository } from "./repository.ts";
import { create${n.pascal}Resolvers } from "./resolvers.ts";

export type ${n.pascal}ServiceOptions = ServiceOptions;

export type ${n.pascal}Service = SubgraphService & { readonly db: Database<${n.pascal}Tables> };

/** Builds the ${n.name} subgraph without listening. */
export async function ${n.factory}(options: ${n.pascal}ServiceOptions): Promise<${n.pascal}Service> {
  const db = await openDatabase<${n.pascal}Tables>("${n.name}", options, migrations);
  return buildOrRelease(
    () => db.close(),
    async () => {
      const repository = new Sql${n.type}Repository(db);
      const service = await createSubgraphService({
        ...options,
        name: "${n.name}",
        typeDefs: loadTypeDefs(import.meta.url),
        resolvers: create${n.pascal}Resolvers(repository),
        createLoaders: () => create${n.pascal}Loaders(repository),
        onClose: () => db.close(),
      });
      return Object.assign(service, { db });
    },
  );
}
`,
    [`${dir}/index.ts`]: `// The ${n.name} subgraph process.
import { runService } from "../kit/run.ts";
import { ${n.factory} } from "./server.ts";

runService({
  name: "${n.name}",
  defaultPort: ${port},
  start: (config, logger) => ${n.factory}({ ...config, logger }),
});
`,
    [`test/integration/${n.name}.test.ts`]: `import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { ${n.factory}, type ${n.pascal}Service } from "../../subgraphs/${n.name}/server.ts";
import { IDENTITY_HEADER } from "../../subgraphs/kit/identity.ts";
import { testKeys } from "../helpers/identity.ts";

interface GraphQLResult<T> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

describe("${n.name} subgraph", () => {
  let service: ${n.pascal}Service;
  let url: string;

  async function gql<T>(query: string, variables: Record<string, unknown> = {}, token?: string) {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers[IDENTITY_HEADER] = token;
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    return (await res.json()) as GraphQLResult<T>;
  }

  before(async () => {
    service = await ${n.factory}({
      databasePath: ":memory:",
      identityKeys: testKeys.forService("${n.name}"),
      logger: pino({ level: "silent" }),
    });
    url = await service.listen(0);
  });
  after(() => service.close());

  test("a signed-in user creates one; it is listed, read by id and resolved as an entity", async () => {
    const token = await testKeys.sign({ userId: "user-1", scopes: new Set(["customer"]) }, "${n.name}");
    const created = await gql<{ create${n.type}: { id: string; title: string; createdBy: string } }>(
      "mutation($t: String!) { create${n.type}(input: { title: $t }) { id title createdBy } }",
      { t: "  first  " },
      token,
    );
    assert.equal(created.errors, undefined);
    const record = created.data!.create${n.type};
    assert.deepEqual({ title: record.title, createdBy: record.createdBy }, { title: "first", createdBy: "user-1" });

    const read = await gql<{ ${n.one}: { id: string }; ${n.many}: { id: string }[] }>(
      "query($id: ID!) { ${n.one}(id: $id) { id } ${n.many}(first: 5) { id } }",
      { id: record.id },
    );
    assert.equal(read.data?.${n.one}.id, record.id);
    assert.deepEqual(read.data?.${n.many}.map((r) => r.id), [record.id]);

    const entities = await gql<{ _entities: ({ title: string } | null)[] }>(
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on ${n.type} { title } } }',
      { r: [{ __typename: "${n.type}", id: record.id }, { __typename: "${n.type}", id: "missing" }] },
    );
    assert.deepEqual(entities.data?._entities, [{ title: "first" }, null]);
  });

  test("anonymous callers cannot create; bad input is BAD_USER_INPUT", async () => {
    const anonymous = await gql('mutation { create${n.type}(input: { title: "x" }) { id } }');
    assert.equal(anonymous.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    const token = await testKeys.sign({ userId: "user-1" }, "${n.name}");
    const empty = await gql('mutation { create${n.type}(input: { title: " " }) { id } }', {}, token);
    assert.equal(empty.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    const tooMany = await gql("{ ${n.many}(first: 1000) { id } }");
    assert.equal(tooMany.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
  });
});
`,
  };
}

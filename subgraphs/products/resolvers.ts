import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { isPeer } from "../kit/identity.ts";
import type { SubgraphContext } from "../kit/server.ts";
import { badInput, forbidden, notFound, unauthenticated } from "../shared/errors.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import type { ProductLoaders } from "./loaders.ts";
import type { NewProduct, ProductPatch, ProductRecord, ProductRepository, ReservationLine } from "./repository.ts";
import { validateLines, validateProduct } from "./validation.ts";

type Context = SubgraphContext<ProductLoaders>;

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

interface ProductConnection {
  nodes: ProductRecord[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Catalogue changes: `catalog:write` (admins hold it), checked here too, not only at the gateway. */
function requireCatalogWriter(ctx: Context): void {
  if (!ctx.identity.userId && !ctx.identity.clientId) throw unauthenticated();
  if (!ctx.identity.scopes.has("catalog:write"))
    throw forbidden("Changing the catalogue needs the catalog:write scope");
}

function requireService(ctx: Context): void {
  if (!isPeer(ctx.identity, "orders")) throw forbidden("Only the orders service may change stock");
}

export function createProductResolvers(repository: ProductRepository): GraphQLResolverMap<Context> {
  return {
    Query: {
      product: (_: unknown, args: { id: string }, ctx: Context) => ctx.loaders.product.load(args.id),

      products: async (
        _: unknown,
        args: { first?: number | null; after?: string | null },
        ctx: Context,
      ): Promise<ProductConnection> => {
        const first = args.first ?? DEFAULT_PAGE_SIZE;
        if (first < 1 || first > MAX_PAGE_SIZE) throw badInput(`first must be from 1 to ${MAX_PAGE_SIZE}`, "first");
        const after = args.after == null ? null : decodeCursor(args.after);
        // One row more than asked tells whether another page exists without a second query.
        const rows = await repository.list(after, first + 1);
        const nodes = rows.slice(0, first);
        for (const node of nodes) ctx.loaders.product.prime(node.id, node);
        const last = nodes.at(-1);
        return {
          nodes,
          pageInfo: { hasNextPage: rows.length > first, endCursor: last ? encodeCursor(last.position) : null },
        };
      },
    },

    ProductConnection: {
      // Counted only when asked for: most pages don't need it.
      totalCount: () => repository.count(),
    },

    Mutation: {
      createProduct: async (_: unknown, args: { input: NewProduct }, ctx: Context) => {
        requireCatalogWriter(ctx);
        const input = validateProduct(args.input, true) as NewProduct;
        const product = await repository.create(input);
        ctx.log.info({ productId: product.id, by: ctx.identity.userId ?? ctx.identity.clientId }, "product created");
        return product;
      },

      updateProduct: async (_: unknown, args: { id: string; input: ProductPatch }, ctx: Context) => {
        requireCatalogWriter(ctx);
        const patch = validateProduct(args.input, false);
        const product = await repository.update(args.id, patch);
        if (!product) throw notFound("No such product");
        ctx.log.info({ productId: product.id, by: ctx.identity.userId ?? ctx.identity.clientId }, "product updated");
        return product;
      },

      reserveStock: async (
        _: unknown,
        args: { input: { orderId: string; items: ReservationLine[] } },
        ctx: Context,
      ) => {
        requireService(ctx);
        const { orderId, items } = args.input;
        if (orderId.length === 0 || orderId.length > 100) throw badInput("Invalid order id", "orderId");
        validateLines(items);
        return repository.reserve(
          orderId,
          items.map(({ productId, quantity }) => ({ productId, quantity })),
        );
      },

      claimStock: async (_: unknown, args: { orderId: string }, ctx: Context) => {
        requireService(ctx);
        return repository.claim(args.orderId);
      },

      releaseStock: async (_: unknown, args: { orderId: string }, ctx: Context) => {
        requireService(ctx);
        return repository.release(args.orderId);
      },
    },

    Product: {
      __resolveReference: (reference: { id: string }, ctx: Context) => ctx.loaders.product.load(reference.id),
    },
  };
}

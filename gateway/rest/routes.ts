/**
 * The legacy REST paths, as data. Each entry names its method and path, the GraphQL operation it
 * runs, where each operation variable comes from (path, query, header or body) and its success
 * status. Parameter types are the GraphQL types of the operation's variables, so `?first=abc` is
 * refused as a 400 naming `first` before anything runs. Adding a route is adding an entry here.
 */

/** Where a parameter is read from. */
export type ParameterLocation = "path" | "query" | "header";

export interface RouteParameter {
  /** The name the client uses (`:id`, `?first=`, `Idempotency-Key`). */
  readonly name: string;
  readonly in: ParameterLocation;
  /**
   * The operation variable it fills, as a dotted path (`id`, `input.idempotencyKey`). Its type is
   * the variable's (or input field's) GraphQL type. @default name
   */
  readonly variable?: string;
  readonly description: string;
}

export interface RouteBody {
  /**
   * The operation variable the whole JSON body becomes (`input`). Without it, the body is an object
   * whose members are the operation variables no parameter fills (`{ email, password }`).
   */
  readonly variable?: string;
  readonly description: string;
}

export interface RestRoute {
  /** Unique; the OpenAPI operationId. */
  readonly id: string;
  readonly method: "GET" | "POST";
  /** Fastify path syntax, `/api/...`. */
  readonly path: string;
  readonly summary: string;
  /** One named GraphQL operation over the public schema. */
  readonly operation: string;
  /** Dotted path in `data` to the resource the route answers with (`me.orders`). */
  readonly result: string;
  readonly parameters?: readonly RouteParameter[];
  readonly body?: RouteBody;
  /** @default 200 */
  readonly status?: 200 | 201;
  /** `Location` of a created resource; `{a.b}` is read from the resource. */
  readonly location?: string;
  /** Cursor pagination: the `Link: rel="next"` target is this route with the query parameter set. */
  readonly pagination?: { readonly param: string; readonly endCursor: string; readonly hasNextPage: string };
  /** Whether the operation needs a bearer token (documentation; the pipeline enforces it). */
  readonly auth: "required" | "optional";
}

const USER = "id email name";
const PRODUCT = "id name priceCents currency stock";
const PAYMENT = "id amountCents currency status order { id }";
// Mutation answers select only fields their own subgraph resolves, so a peer being down cannot
// turn a side effect that happened into an error (and a retry into a duplicate).
const ORDER_CREATED =
  "id user { id } items { product { id } quantity unitPriceCents } totalCents currency status createdAt";
const ORDER = `id user { id } items { product { ${PRODUCT} } quantity unitPriceCents } totalCents currency status createdAt payment { id amountCents currency status }`;

const id = (what: string): RouteParameter => ({ name: "id", in: "path", description: `The ${what}'s id.` });

export const ROUTES: readonly RestRoute[] = [
  {
    id: "registerUser",
    method: "POST",
    path: "/api/users",
    summary: "Create a customer account and sign it in",
    operation: `mutation RegisterUser($input: RegisterInput!) { register(input: $input) { token user { ${USER} } } }`,
    result: "register",
    body: { variable: "input", description: "The new account." },
    status: 201,
    location: "/api/users/{user.id}",
    auth: "optional",
  },
  {
    id: "login",
    method: "POST",
    path: "/api/users/login",
    summary: "Exchange an email and password for a bearer token",
    operation: `mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { token user { ${USER} } } }`,
    result: "login",
    body: { description: "The account's credentials." },
    auth: "optional",
  },
  {
    id: "getMe",
    method: "GET",
    path: "/api/users/me",
    summary: "The signed-in user",
    operation: `query GetMe { me { ${USER} } }`,
    result: "me",
    auth: "required",
  },
  {
    id: "getUser",
    method: "GET",
    path: "/api/users/:id",
    summary: "A user: the user themself or an admin",
    operation: `query GetUser($id: ID!) { user(id: $id) { ${USER} } }`,
    result: "user",
    parameters: [id("user")],
    auth: "required",
  },
  {
    id: "listProducts",
    method: "GET",
    path: "/api/products",
    summary: "The catalogue, one page at a time",
    operation: `query ListProducts($first: Int, $after: String) { products(first: $first, after: $after) { nodes { ${PRODUCT} } pageInfo { hasNextPage endCursor } totalCount } }`,
    result: "products",
    parameters: [
      { name: "first", in: "query", description: "Page size, 1 to 100 (default 20)." },
      { name: "after", in: "query", description: "The `pageInfo.endCursor` of the previous page." },
    ],
    pagination: { param: "after", endCursor: "pageInfo.endCursor", hasNextPage: "pageInfo.hasNextPage" },
    auth: "optional",
  },
  {
    id: "getProduct",
    method: "GET",
    path: "/api/products/:id",
    summary: "A product",
    operation: `query GetProduct($id: ID!) { product(id: $id) { ${PRODUCT} } }`,
    result: "product",
    parameters: [id("product")],
    auth: "optional",
  },
  {
    id: "listMyOrders",
    method: "GET",
    path: "/api/orders",
    summary: "The signed-in user's orders, newest first",
    operation: `query ListMyOrders { me { orders { ${ORDER} } } }`,
    result: "me.orders",
    auth: "required",
  },
  {
    id: "getOrder",
    method: "GET",
    path: "/api/orders/:id",
    summary: "An order: its owner or an admin",
    operation: `query GetOrder($id: ID!) { order(id: $id) { ${ORDER} } }`,
    result: "order",
    parameters: [id("order")],
    auth: "required",
  },
  {
    id: "placeOrder",
    method: "POST",
    path: "/api/orders",
    summary: "Place an order at the catalogue's current prices",
    operation: `mutation PlaceOrder($input: PlaceOrderInput!) { placeOrder(input: $input) { ${ORDER_CREATED} } }`,
    result: "placeOrder",
    body: { variable: "input", description: "The order lines." },
    status: 201,
    location: "/api/orders/{id}",
    auth: "required",
  },
  {
    id: "processPayment",
    method: "POST",
    path: "/api/payments/process",
    summary: "Charge an order; the same idempotency key always gives the same payment and at most one charge",
    operation: `mutation ProcessPayment($input: ProcessPaymentInput!) { processPayment(input: $input) { ${PAYMENT} } }`,
    result: "processPayment",
    parameters: [
      {
        name: "Idempotency-Key",
        in: "header",
        variable: "input.idempotencyKey",
        description: "Chosen by the client; reuse it to retry safely. Or the body field `idempotencyKey`.",
      },
    ],
    body: { variable: "input", description: "The order and the payment method." },
    auth: "required",
  },
  {
    id: "getPayment",
    method: "GET",
    path: "/api/payments/:id",
    summary: "A payment: the owner of its order or an admin",
    operation: `query GetPayment($id: ID!) { payment(id: $id) { ${PAYMENT} } }`,
    result: "payment",
    parameters: [id("payment")],
    auth: "required",
  },
];

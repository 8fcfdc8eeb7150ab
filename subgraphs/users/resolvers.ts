import { randomUUID } from "node:crypto";
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { assertCanRead, type Identity, requireUser } from "../kit/identity.ts";
import type { SubgraphContext } from "../kit/server.ts";
import { badInput, unauthenticated } from "../shared/errors.ts";
import type { UsersLoaders } from "./loaders.ts";
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from "./password.ts";
import type { UserRecord, UsersRepository } from "./repository.ts";
import { CUSTOMER_SCOPE } from "./scopes.ts";
import type { TokenIssuer } from "./tokens.ts";
import { EMAIL_MAX, normalizeEmail, PASSWORD_MAX, type RegistrationInput, validateRegistration } from "./validation.ts";

type Context = SubgraphContext<UsersLoaders>;

/** The only user fields that leave this service; the password hash never does. */
interface UserView {
  id: string;
  email: string;
  name: string;
}

interface AuthPayload {
  token: string;
  user: UserView;
}

export interface ResolverDependencies {
  users: UsersRepository;
  tokens: TokenIssuer;
}

const LOGIN_FAILED = "Invalid email or password";

const toView = (user: UserRecord): UserView => ({ id: user.id, email: user.email, name: user.name });

const authorizeRead = (identity: Identity, userId: string) =>
  assertCanRead(identity, userId, "You may only read your own account");

export function createResolvers({ users, tokens }: ResolverDependencies): GraphQLResolverMap<Context> {
  async function signIn(user: UserRecord): Promise<AuthPayload> {
    return { token: await tokens.issue(user), user: toView(user) };
  }

  return {
    Query: {
      async me(_: unknown, _args: unknown, { identity, loaders }: Context): Promise<UserView | null> {
        const user = await loaders.userById.load(requireUser(identity));
        return user ? toView(user) : null;
      },
      async user(_: unknown, { id }: { id: string }, { identity, loaders }: Context): Promise<UserView | null> {
        authorizeRead(identity, id);
        const user = await loaders.userById.load(id);
        return user ? toView(user) : null;
      },
    },
    Mutation: {
      async register(_: unknown, { input }: { input: RegistrationInput }, { log }: Context): Promise<AuthPayload> {
        const valid = validateRegistration(input);
        const user = await users.create({
          id: randomUUID(),
          email: valid.email,
          name: valid.name,
          passwordHash: await hashPassword(valid.password),
          scope: CUSTOMER_SCOPE,
        });
        if (!user) throw badInput("An account with this email already exists", "email");
        log.info({ userId: user.id }, "user registered");
        return signIn(user);
      },
      async login(
        _: unknown,
        { email, password }: { email: string; password: string },
        { log }: Context,
      ): Promise<AuthPayload> {
        const normalized = normalizeEmail(email);
        const user = normalized.length <= EMAIL_MAX ? await users.findByEmail(normalized) : null;
        // Always exactly one scrypt, whether or not the account exists or the password is absurdly
        // long, so response time says nothing about which emails are registered.
        const tooLong = password.length > PASSWORD_MAX;
        const matches = await verifyPassword(tooLong ? "" : password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
        if (!user || !matches || tooLong) {
          log.info("login refused");
          throw unauthenticated(LOGIN_FAILED);
        }
        return signIn(user);
      },
    },
    User: {
      async __resolveReference(reference: { id: string }, { identity, loaders }: Context): Promise<UserView | null> {
        authorizeRead(identity, reference.id);
        const user = await loaders.userById.load(reference.id);
        return user ? toView(user) : null;
      },
    },
  };
}

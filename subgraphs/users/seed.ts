import { hashPassword } from "./password.ts";
import type { UsersRepository } from "./repository.ts";
import { ADMIN_SCOPE, CUSTOMER_SCOPE } from "./scopes.ts";

/**
 * Development accounts. The ids are fixed so that other services' seed data (orders, payments)
 * can refer to these users without asking this service.
 */
export const SEED_USERS = [
  {
    id: "11111111-1111-4111-8111-111111111111",
    email: "alice@example.com",
    name: "Alice",
    password: "alice-password",
    scope: CUSTOMER_SCOPE,
  },
  {
    id: "22222222-2222-4222-8222-222222222222",
    email: "bob@example.com",
    name: "Bob",
    password: "bob-password",
    scope: CUSTOMER_SCOPE,
  },
  {
    id: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
    email: "admin@example.com",
    name: "Admin",
    password: "admin-password",
    scope: ADMIN_SCOPE,
  },
] as const;

/** Inserts the seed accounts that are missing; existing rows (and changed passwords) are left alone. */
export async function seedUsers(users: UsersRepository): Promise<number> {
  const missing = [];
  for (const seed of SEED_USERS) {
    if (!((await users.findByEmail(seed.email)) || (await users.findById(seed.id)))) missing.push(seed);
  }
  // Each hash is a deliberately slow scrypt on libuv's pool: computed side by side, not in turn.
  // Seed passwords are shorter than register allows; they bypass its rules on purpose.
  const hashes = await Promise.all(missing.map(({ password }) => hashPassword(password)));
  let inserted = 0;
  for (const [i, { password: _, ...user }] of missing.entries()) {
    if (await users.create({ ...user, passwordHash: hashes[i]! })) inserted++;
  }
  return inserted;
}

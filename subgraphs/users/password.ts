import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

const N = 16384;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Refuse stored parameters far above ours: a tampered row must not make login burn gigabytes. */
const MAX_N = 1 << 20;

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFC"), salt, keylen, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function scryptOptions(n: number, r: number, p: number): ScryptOptions {
  // Node's default maxmem (32 MiB) is just enough for N=16384, r=8; leave room for stronger stored params.
  return { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 };
}

/** `scrypt$N$r$p$saltB64$hashB64`: the parameters travel with the hash so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(password, salt, KEY_BYTES, scryptOptions(N, R, P));
  return ["scrypt", N, R, P, salt.toString("base64"), key.toString("base64")].join("$");
}

/**
 * Stands in for the stored hash when the email is unknown, so that a login for an unknown
 * account costs the same one scrypt as a wrong password and timing reveals nothing.
 */
export const DUMMY_PASSWORD_HASH = [
  "scrypt",
  N,
  R,
  P,
  Buffer.alloc(SALT_BYTES, 1).toString("base64"),
  Buffer.alloc(KEY_BYTES, 2).toString("base64"),
].join("$");

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![n, r, p].every(Number.isSafeInteger) || n < 2 || n > MAX_N || r < 1 || r > 32 || p < 1 || p > 16) {
    return false;
  }
  const salt = Buffer.from(parts[4]!, "base64");
  const expected = Buffer.from(parts[5]!, "base64");
  if (expected.length === 0) return false;
  const actual = await scryptAsync(password, salt, expected.length, scryptOptions(n, r, p));
  return timingSafeEqual(actual, expected);
}

import { badInput } from "../shared/errors.ts";

export const EMAIL_MAX = 254;
export const NAME_MAX = 100;
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 200;

// Deliberately plain: one @, no whitespace, a dotted domain. Deliverability is not ours to prove.
const EMAIL_PATTERN = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/u;
const CONTROL_CHARS = /\p{Cc}/u;

/** Emails are compared and stored trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface RegistrationInput {
  email: string;
  name: string;
  password: string;
}

/** Normalises and checks a registration; each refusal names the offending field. */
export function validateRegistration(input: RegistrationInput): RegistrationInput {
  const email = normalizeEmail(input.email);
  if (email.length === 0 || email.length > EMAIL_MAX || !EMAIL_PATTERN.test(email)) {
    throw badInput("Enter a valid email address", "email");
  }

  const name = input.name.trim();
  if (name.length < 1 || name.length > NAME_MAX || CONTROL_CHARS.test(name)) {
    throw badInput(`Name must be 1 to ${NAME_MAX} characters`, "name");
  }

  const { password } = input;
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw badInput(`Password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`, "password");
  }
  if (/^\p{L}+$/u.test(password)) throw badInput("Password must not be only letters", "password");
  if (/^\p{Nd}+$/u.test(password)) throw badInput("Password must not be only digits", "password");
  if (password.trim().toLowerCase() === email) throw badInput("Password must not be the email address", "password");

  return { email, name, password };
}

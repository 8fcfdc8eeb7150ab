import { type GraphQLError, type GraphQLFormattedError, Lexer, Source, TokenKind } from "graphql";
import type { ErrorCode } from "../errors.ts";

/** Codes the guards give refusals that Apollo Server reports as validation or parse failures. */
const SHAPE_CODES = new Set<string>([
  "DEPTH_LIMIT_EXCEEDED",
  "ALIAS_LIMIT_EXCEEDED",
  "ROOT_FIELD_LIMIT_EXCEEDED",
  "DIRECTIVE_LIMIT_EXCEEDED",
  "REPEATED_FIELD_LIMIT_EXCEEDED",
]);

/** Tokens in a document, counted no further than `stop` (the parser's count: comments excluded). */
export function countTokens(body: string, stop: number): number {
  const lexer = new Lexer(new Source(body));
  let count = 0;
  try {
    while (count <= stop && lexer.advance().kind !== TokenKind.EOF) count += 1;
  } catch {
    // An invalid character ends the count; the document is refused either way.
  }
  return count;
}

type Formatter = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/**
 * Wraps the gateway's error formatter so guard refusals keep their contract codes. Apollo Server
 * reports a validation rule's error as GRAPHQL_VALIDATION_FAILED and the parser's `maxTokens`
 * abort as GRAPHQL_PARSE_FAILED (both 400); the original error, or the source itself, says which
 * guard it was.
 */
export function restoreGuardCodes(inner: Formatter, maxTokens: number, onTokens: () => void): Formatter {
  return (formatted, error) => {
    const code = formatted.extensions?.code;
    const graphqlError = error as GraphQLError | undefined;
    if (code === "GRAPHQL_VALIDATION_FAILED") {
      const original = graphqlError?.originalError as GraphQLError | undefined;
      const originalCode = original?.extensions?.code;
      if (typeof originalCode === "string" && SHAPE_CODES.has(originalCode)) {
        return inner({ ...formatted, extensions: { ...formatted.extensions, code: originalCode } }, error);
      }
    } else if (code === "GRAPHQL_PARSE_FAILED" && maxTokens > 0 && graphqlError?.source) {
      if (countTokens(graphqlError.source.body, maxTokens) > maxTokens) {
        onTokens();
        const extensions = { ...formatted.extensions, code: "TOKEN_LIMIT_EXCEEDED" satisfies ErrorCode };
        return inner(
          { message: `Document has more than ${maxTokens} tokens`, extensions: { ...extensions, limit: maxTokens } },
          error,
        );
      }
    }
    return inner(formatted, error);
  };
}

/**
 * Load with autocannon where only right answers count: each response is compared with the body
 * verified before the run (same status, same bytes); anything else is counted apart and one
 * example is kept for the report.
 */
import autocannon from "autocannon";

export interface HttpRequest {
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface LoadResult {
  /** Responses identical to the verified body. */
  ok: number;
  /** Responses that were not (another status, another body, an error or a timeout). */
  bad: number;
  /** The first wrong response, cut short. */
  badExample: string | undefined;
  seconds: number;
  p50: number;
  p99: number;
}

/** One bounded autocannon run against `baseUrl` + `request`, for `seconds` (autocannon counts whole seconds). */
export async function load(
  baseUrl: string,
  request: HttpRequest,
  expected: string,
  options: { seconds: number; connections: number },
): Promise<LoadResult> {
  let ok = 0;
  let bad = 0;
  let badExample: string | undefined;
  const result = await autocannon({
    url: baseUrl,
    connections: options.connections,
    duration: options.seconds,
    requests: [
      {
        method: request.method,
        path: request.path,
        headers: request.headers,
        ...(request.body !== undefined && { body: request.body }),
        onResponse: (status: number, body: string) => {
          if (status === 200 && body === expected) {
            ok++;
          } else {
            bad++;
            badExample ??= `${status} ${String(body).slice(0, 300)}`;
          }
        },
      },
    ],
  });
  // Errors and timeouts never reach onResponse.
  bad += result.errors + result.timeouts;
  if (result.errors + result.timeouts > 0) badExample ??= `${result.errors} errors, ${result.timeouts} timeouts`;
  return { ok, bad, badExample, seconds: result.duration, p50: result.latency.p50, p99: result.latency.p99 };
}

/** Fetches an answer once, outside the measurement, as text. */
export async function fetchOnce(baseUrl: string, request: HttpRequest): Promise<{ status: number; body: string }> {
  const res = await fetch(`${baseUrl}${request.path}`, {
    method: request.method,
    headers: request.headers,
    ...(request.body !== undefined && { body: request.body }),
  });
  return { status: res.status, body: await res.text() };
}

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
let dir: string;
before(async () => {
  stack = await startStack();
  dir = mkdtempSync(join(tmpdir(), "gateway-cli-"));
});
after(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])(:\d+)?$/;

test("`npm run gateway -- --supergraph FILE --port 0` serves any supergraph alone and never calls home", async () => {
  const record = join(dir, "connections.log");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...stack.identity.gatewayEnv,
    LOG_LEVEL: "info",
    RECORD_CONNECTIONS_FILE: record,
  };
  // The gateway must switch telemetry off by itself.
  delete env.APOLLO_TELEMETRY_DISABLED;
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--import",
      "./test/helpers/record-connections.ts",
      "gateway/index.ts",
      "--supergraph",
      stack.supergraphPath,
      "--port",
      "0",
    ],
    { env, stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on("line", (line) => {
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === "gateway listening" && entry.url) resolve(entry.url);
        } catch {
          // not a log line
        }
      });
      child.on("exit", (code) => reject(new Error(`gateway exited with ${code} before listening`)));
    });

    const login = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        query: 'mutation { login(email: "alice@example.com", password: "alice-password") { token } }',
      }),
    });
    const token = ((await login.json()) as { data: { login: { token: string } } }).data.login.token;
    const me = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: "{ me { email orders { id } } }" }),
    });
    const body = (await me.json()) as { data?: { me: { email: string } } };
    assert.equal(body.data?.me.email, "alice@example.com");
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal(await exited, 0, "SIGTERM stops the gateway cleanly");

  const destinations = readFileSync(record, "utf8").trim().split("\n").filter(Boolean);
  assert.ok(destinations.length > 0, "the recorder saw the gateway's own subgraph connections");
  const elsewhere = destinations.filter((line) => !LOOPBACK.test(line.split(" ")[1] ?? ""));
  assert.deepEqual(elsewhere, [], "every connection goes to loopback");
});

test("a bad setting stops the gateway with a message naming the variable", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "gateway/index.ts"], {
    env: { ...process.env, PORT: "not-a-port" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.equal(code, 2);
  assert.match(stderr, /PORT/);
});

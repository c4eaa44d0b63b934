import { describe, expect, it } from "vitest";
import { makeClient } from "./client";
import { CSRF_HEADER, type TokenStore } from "./session";

function memory(token: string | null): TokenStore & { value: string | null } {
  const s = { value: token, get: () => s.value, set: (t: string | null) => void (s.value = t) };
  return s;
}

/** A fetch that records the requests and answers `status` with `{}`. */
function recorder(status = 200) {
  const seen: Request[] = [];
  const fetch = async (input: Request) => {
    seen.push(input);
    return new Response("{}", { status, headers: { "content-type": "application/json" } });
  };
  return { seen, fetch: fetch as unknown as typeof globalThis.fetch };
}

describe("the API client", () => {
  it("sends the CSRF token on state-changing requests only", async () => {
    const r = recorder();
    const client = makeClient({ tokens: memory("tok-1"), fetch: r.fetch, baseUrl: "http://127.0.0.1:1" });
    await client.GET("/api/v1/auth/me");
    await client.POST("/api/v1/instances/{id}/stop", { params: { path: { id: 3 } } });
    expect(r.seen[0]!.headers.get(CSRF_HEADER)).toBeNull();
    expect(r.seen[1]!.method).toBe("POST");
    expect(r.seen[1]!.headers.get(CSRF_HEADER)).toBe("tok-1");
    expect(r.seen[1]!.headers.get("content-type")).toBe("application/json");
    expect(new URL(r.seen[1]!.url).pathname).toBe("/api/v1/instances/3/stop");
  });

  it("sends no token when it has none", async () => {
    const r = recorder();
    const client = makeClient({ tokens: memory(null), fetch: r.fetch, baseUrl: "http://127.0.0.1:1" });
    await client.POST("/api/v1/auth/logout");
    expect(r.seen[0]!.headers.has(CSRF_HEADER)).toBe(false);
  });

  it("forgets the token and reports a 401, but not a failed login", async () => {
    const r = recorder(401);
    const tokens = memory("tok-2");
    let told = 0;
    const client = makeClient({ tokens, fetch: r.fetch, baseUrl: "http://127.0.0.1:1", onUnauthorized: () => told++ });
    await client.POST("/api/v1/auth/login", { body: { username: "u", password: "p" } });
    expect(told).toBe(0);
    expect(tokens.value).toBe("tok-2");
    await client.GET("/api/v1/projects");
    expect(told).toBe(1);
    expect(tokens.value).toBeNull();
  });
});

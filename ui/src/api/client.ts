// The typed API client: openapi-fetch over the paths of Baton's OpenAPI document
// (`schema.d.ts`, generated from the committed `openapi.json` by `npm run gen:api`).
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { CSRF_HEADER, changesState, sessionTokenStore, type TokenStore } from "./session";

/** The API's schemas by name. */
export type Schemas = components["schemas"];

/** What the client does around each request. */
export interface ClientOptions {
  /** Where the CSRF token is kept. */
  tokens: TokenStore;
  /** Called on a 401 answer (but not on the login's own). */
  onUnauthorized?: () => void;
  /** The fetch to use (tests pass their own). */
  fetch?: typeof fetch;
  /** The server (default: this page's origin). */
  baseUrl?: string;
}

/** Sends the CSRF token on state-changing requests, reports 401s. */
export function sessionMiddleware(opts: ClientOptions): Middleware {
  return {
    onRequest({ request }) {
      const token = opts.tokens.get();
      if (token && changesState(request.method)) request.headers.set(CSRF_HEADER, token);
      return request;
    },
    onResponse({ request, response }) {
      if (response.status === 401 && !new URL(request.url).pathname.endsWith("/auth/login")) {
        opts.tokens.set(null);
        opts.onUnauthorized?.();
      }
      return response;
    },
  };
}

/** A client of the API under `baseUrl`. */
export function makeClient(opts: ClientOptions): Client<paths> {
  const client = createClient<paths>({
    baseUrl: opts.baseUrl ?? (typeof location === "undefined" ? "" : location.origin),
    fetch: opts.fetch,
    headers: { "content-type": "application/json" },
    credentials: "same-origin",
  });
  client.use(sessionMiddleware(opts));
  return client;
}

/** The message of an API error body (`{"error": {"code", "message"}}`), or a fallback. */
export function errorMessage(error: unknown, fallback = "request failed"): string {
  const e = error as { error?: { message?: string; code?: string } } | undefined;
  return e?.error?.message ?? fallback;
}

/** Thrown by [`data`] for an error answer, so that TanStack Query sees a failure. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** The data of an openapi-fetch answer, or an [`ApiError`]. */
export function data<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data !== undefined && answer.response.ok) return answer.data;
  throw new ApiError(errorMessage(answer.error, `HTTP ${answer.response.status}`), answer.response.status);
}

/** The page's session token store, and the page's client. */
export const tokens = sessionTokenStore();

let unauthorized: () => void = () => {};
/** Sets what the page does on a 401 (the app sends the user to the login page). */
export function onUnauthorized(f: () => void) {
  unauthorized = f;
}

/** The page's client. */
export const api = makeClient({ tokens, onUnauthorized: () => unauthorized() });

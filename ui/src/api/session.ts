// The browser's session: the HttpOnly cookie (which scripts never see) and its CSRF token,
// which the API wants in a header on every state-changing request. The token lives in
// sessionStorage only (this tab, until it is closed), never in localStorage.

/** The header the API reads the CSRF token from (`baton_api_model::CSRF_HEADER`). */
export const CSRF_HEADER = "x-csrf-token";

const KEY = "baton.csrf";

/** Where the token is kept: sessionStorage in the browser, a map in tests. */
export interface TokenStore {
  get(): string | null;
  set(token: string | null): void;
}

/** The tab's sessionStorage (or memory where there is none). */
export function sessionTokenStore(): TokenStore {
  let memory: string | null = null;
  const storage = typeof sessionStorage === "undefined" ? null : sessionStorage;
  return {
    get: () => (storage ? storage.getItem(KEY) : memory),
    set: (token) => {
      if (storage) {
        if (token === null) storage.removeItem(KEY);
        else storage.setItem(KEY, token);
      } else memory = token;
    },
  };
}

/** Whether a request changes state (and so must carry the CSRF token). */
export function changesState(method: string): boolean {
  return !["GET", "HEAD", "OPTIONS"].includes(method.toUpperCase());
}

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

// A tab opened by hand (a typed or pasted URL) has the session cookie but not the CSRF
// token, which lives in each tab's sessionStorage: it asks the other open tabs of this
// origin (BroadcastChannel, same-origin only) and, if none answers, logs in again.
const CHANNEL = "baton.csrf";

/** Answers other tabs' requests for the token from `store`; returns the stop function. */
export function shareToken(store: TokenStore): () => void {
  if (typeof BroadcastChannel === "undefined") return () => {};
  const channel = new BroadcastChannel(CHANNEL);
  channel.onmessage = (m: MessageEvent) => {
    const token = store.get();
    if (m.data?.type === "ask" && token) channel.postMessage({ type: "token", token, to: m.data.from });
  };
  return () => channel.close();
}

/** Asks the other tabs for the token; null when none answers within `ms`. */
export function askOtherTabs(ms = 300): Promise<string | null> {
  if (typeof BroadcastChannel === "undefined") return Promise.resolve(null);
  const channel = new BroadcastChannel(CHANNEL);
  const from = Math.random().toString(36).slice(2);
  return new Promise((resolve) => {
    const done = (token: string | null) => {
      clearTimeout(timer);
      channel.close();
      resolve(token);
    };
    const timer = setTimeout(() => done(null), ms);
    channel.onmessage = (m: MessageEvent) => {
      if (m.data?.type === "token" && m.data.to === from && typeof m.data.token === "string") done(m.data.token);
    };
    channel.postMessage({ type: "ask", from });
  });
}

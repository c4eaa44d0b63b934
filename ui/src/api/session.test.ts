import { describe, expect, it } from "vitest";
import { askOtherTabs, changesState, shareToken, type TokenStore } from "./session";

const store = (token: string | null): TokenStore => {
  let t = token;
  return { get: () => t, set: (v) => void (t = v) };
};

describe("the CSRF token", () => {
  it("is asked of the other tabs by a tab that has none", async () => {
    const stop = shareToken(store("tok-9"));
    try {
      expect(await askOtherTabs(2000)).toBe("tok-9");
    } finally {
      stop();
    }
  });

  it("is null when no other tab has it", async () => {
    const stop = shareToken(store(null));
    try {
      expect(await askOtherTabs(100)).toBeNull();
    } finally {
      stop();
    }
  });

  it("goes only with state-changing methods", () => {
    expect(changesState("POST")).toBe(true);
    expect(changesState("delete")).toBe(true);
    expect(changesState("GET")).toBe(false);
    expect(changesState("HEAD")).toBe(false);
  });
});

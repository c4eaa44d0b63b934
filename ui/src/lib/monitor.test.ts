import { describe, expect, it } from "vitest";
import { age, memory, stale, used } from "./monitor";

describe("monitor readings", () => {
  const now = Date.parse("2026-01-01T00:10:00Z");
  it("reads heartbeat ages and tells a late one", () => {
    expect(age("2026-01-01T00:09:56Z", now)).toBe("4 s");
    expect(age("2026-01-01T00:00:00Z", now)).toBe("10 m");
    expect(stale("2026-01-01T00:09:56Z", now)).toBe(false);
    expect(stale("2026-01-01T00:09:00Z", now)).toBe(true);
  });
  it("reads memory and slots", () => {
    expect(memory(1024, 8192)).toBe("1.0 / 8.0 GiB (13 %)");
    expect(memory(0, 0)).toBe("—");
    expect(used(3, 4)).toBe(0.75);
    expect(used(1, 0)).toBe(1);
  });
});

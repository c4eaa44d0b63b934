import { describe, expect, it } from "vitest";
import { duration, time } from "./format";

describe("time", () => {
  it("reads as the browser's own reading of the time, to the second, 24-hour", () => {
    for (const at of ["2026-12-04T18:07:50Z", "2026-01-01T00:00:00.123Z", "2025-06-30T23:59:59+02:00"]) {
      expect(time(at)).toBe(new Date(at).toLocaleString(undefined, { hour12: false }));
    }
  });

  it("is an em dash when absent, the text itself when not a time", () => {
    expect(time(null)).toBe("—");
    expect(time(undefined)).toBe("—");
    expect(time("not a time")).toBe("not a time");
  });
});

describe("duration", () => {
  it("reads short, to the unit that matters", () => {
    expect(duration(null)).toBe("—");
    expect(duration(850)).toBe("850 ms");
    expect(duration(1200)).toBe("1.2 s");
    expect(duration(184_000)).toBe("3 m 04 s");
    expect(duration(7_500_000)).toBe("2 h 05 m");
  });
});

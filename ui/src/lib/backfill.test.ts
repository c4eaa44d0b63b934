import { describe, expect, it } from "vitest";
import { daysBetween, doneShare, firesOnDays, formDays, isDate, parseDates, previousDay, startOrder } from "./backfill";

describe("backfill dates", () => {
  it("checks dates", () => {
    expect(isDate("2026-02-28")).toBe(true);
    expect(isDate("2026-02-30")).toBe(false);
    expect(isDate("2026-2-1")).toBe(false);
  });
  it("counts the days of a range, both ends included, across a month and a leap day", () => {
    expect(daysBetween("2026-01-30", "2026-02-02")).toEqual(["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"]);
    expect(daysBetween("2028-02-28", "2028-03-01")).toHaveLength(3);
    expect(previousDay("2026-03-01")).toBe("2026-02-28");
  });
  it("reads a typed list, sorted, without repeats, and tells the bad entries", () => {
    expect(parseDates("2026-01-03, 2026-01-01\n2026-01-03 x")).toEqual({ dates: ["2026-01-01", "2026-01-03"], bad: ["x"] });
  });
  it("refuses a range backwards, a bad date, and a range too long", () => {
    expect(formDays({ mode: "range", from: "2026-01-03", to: "2026-01-01" })).toHaveProperty("error");
    expect(formDays({ mode: "range", from: "2026-01-01", to: "" })).toHaveProperty("error");
    expect(formDays({ mode: "range", from: "1990-01-01", to: "2026-01-01" })).toEqual({ error: "more than 10000 instances in one backfill" });
    expect(formDays({ mode: "range", from: "2026-01-01", to: "2026-01-03" })).toEqual({ days: ["2026-01-01", "2026-01-02", "2026-01-03"] });
    expect(formDays({ mode: "list", text: " " })).toHaveProperty("error");
  });
  it("keeps the fires on the days asked, by the schedule's own date", () => {
    const fires = ["2026-01-01T23:30:00+09:00", "2026-01-02T00:30:00+09:00", "2026-01-03T00:30:00+09:00"];
    expect(firesOnDays(fires, ["2026-01-02"])).toEqual(["2026-01-02T00:30:00+09:00"]);
  });
  it("orders and measures", () => {
    expect(startOrder([1, 2, 3], true)).toEqual([3, 2, 1]);
    expect(doneShare({ succeeded: 1, failed: 1, stopped: 0, cancelled: 0, running: 1, waiting: 1 })).toBe(0.5);
  });
});

import { describe, expect, it } from "vitest";
import { cronText, fireInZone, fireText, scheduleZone, triggerText } from "./schedule";

describe("schedules", () => {
  it("reads a cron expression in words, and tells a bad one", () => {
    expect(cronText("0 2 * * *")).toEqual({ text: "At 02:00" });
    expect(cronText("*/15 * * * 1-5")).toHaveProperty("text");
    expect(cronText("nonsense")).toHaveProperty("error");
  });
  it("reads other triggers", () => {
    expect(triggerText({ fixed_rate: "1h" })).toMatch(/Every 1h/);
    expect(triggerText({ cron: "bad cron" })).toBe("bad cron");
  });
  it("shows a fire in the schedule's own offset, not the browser's", () => {
    expect(fireInZone("2026-12-04T02:00:00+09:00")).toEqual({ date: "2026-12-04", clock: "02:00:00", offset: "+09:00", weekday: "Fri" });
    expect(fireText("2026-12-04T02:00:00Z")).toBe("Fri 2026-12-04 02:00:00 +00:00");
    expect(fireText("soon")).toBe("soon");
  });
  it("picks the zone", () => {
    expect(scheduleZone({}, null)).toBe("UTC");
    expect(scheduleZone({}, "Asia/Tokyo")).toBe("Asia/Tokyo");
    expect(scheduleZone({ timezone: "Europe/Paris" }, "Asia/Tokyo")).toBe("Europe/Paris");
  });
});

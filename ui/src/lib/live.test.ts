import { describe, expect, it } from "vitest";
import { applyEvents, instanceStateOf, streamUrl, type LiveEvent } from "./live";

const ev = (id: number, kind: string, task_name?: string): LiveEvent => ({ id, kind, task_name, message: "", at: "" });

describe("live events", () => {
  it("move tasks through their states in order", () => {
    const start = { a: "submitted" };
    const s = applyEvents(start, [ev(1, "task_dispatched", "a"), ev(2, "task_started", "a"), ev(3, "task_started", "b"), ev(4, "task_succeeded", "a")]);
    expect(s).toEqual({ a: "succeeded", b: "running" });
    expect(start).toEqual({ a: "submitted" });
  });

  it("leave the states alone for events that say nothing of a task", () => {
    const start = { a: "running" };
    expect(applyEvents(start, [ev(1, "instance_started"), ev(2, "worker_lost")])).toBe(start);
    expect(instanceStateOf("instance_succeeded")).toBe("succeeded");
  });

  it("resume after the last event seen", () => {
    expect(streamUrl({ instance: 7 }, 42)).toBe("/api/v1/events/stream?instance=7&after=42");
    expect(streamUrl({ project: "a b" })).toBe("/api/v1/events/stream?project=a+b");
  });
});

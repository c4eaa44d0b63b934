import { describe, expect, it } from "vitest";
import { childInstances, gantt, place } from "./gantt";

const T = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

describe("gantt", () => {
  it("shows each attempt of a retried task, the running one up to now, none for a task not started", () => {
    const tasks = [
      { id: 1, task_name: "extract", attempt: 2, state: "running", started_at: T(10), ended_at: null },
      { id: 2, task_name: "load", attempt: 1, state: "submitted", started_at: null },
    ];
    const attempts = [{ task_instance_id: 1, attempt: 1, state: "failed", started_at: T(0), ended_at: T(5) }];
    const g = gantt(tasks, attempts, Date.parse(T(20)));
    expect(g.rows).toHaveLength(1);
    expect(g.rows[0]!.bars.map((b) => [b.attempt, b.state, b.running])).toEqual([
      [1, "failed", false],
      [2, "running", true],
    ]);
    expect(g.to - g.from).toBe(20_000);
    expect(place(g.rows[0]!.bars[0]!, g.from, g.to)).toEqual({ left: 0, width: 25 });
  });
  it("does not show an ended attempt twice", () => {
    const tasks = [{ id: 1, task_name: "a", attempt: 1, state: "succeeded", started_at: T(0), ended_at: T(1) }];
    const attempts = [{ task_instance_id: 1, attempt: 1, state: "succeeded", started_at: T(0), ended_at: T(1) }];
    expect(gantt(tasks, attempts, 0).rows[0]!.bars).toHaveLength(1);
  });
  it("keeps a sliver for an instant bar", () => {
    expect(place({ start: 5, end: 5 }, 0, 10).width).toBeCloseTo(0.4);
  });
  it("finds the child instances of sub-workflow tasks", () => {
    expect(
      childInstances([
        { task_name: "branches", message: "runs child instance 42 (`branching` version 1)" },
        { task_name: "branches", message: "runs child instance 42 (`branching` version 1)" },
        { task_name: "x", message: "started" },
      ]),
    ).toEqual({ branches: [42] });
  });
});

import { describe, expect, it } from "vitest";
import type { Schemas } from "../api/client";
import { countParts, countsText, itemFilter, mappedCounts, mergePages } from "./items";

const item = (id: number, state: string): Schemas["TaskInstance"] =>
  ({ id, task_name: `load[${id}]`, state, attempt: 1, map: { item: { task: "load", index: id } } }) as Schemas["TaskInstance"];

describe("item counts", () => {
  it("reads succeeded, failed and waiting always, other states only when some items are in them", () => {
    expect(countsText({ items: 200, not_started: 0, states: [{ state: "succeeded", count: 196 }, { state: "failed", count: 4 }] })).toBe("196 ✓ · 4 ✗ · 0 waiting");
    expect(countsText({ items: 30, not_started: 20, states: [{ state: "running", count: 4 }, { state: "retry_wait", count: 1 }, { state: "succeeded", count: 5 }] })).toBe(
      "5 ✓ · 0 ✗ · 4 running · 1 retry wait · 20 waiting",
    );
  });

  it("gives each part its state for its colour, waiting none", () => {
    const parts = countParts({ items: 3, not_started: 1, states: [{ state: "failed", count: 2 }] });
    expect(parts.map((p) => [p.state, p.count])).toEqual([
      ["succeeded", 0],
      ["failed", 2],
      [null, 1],
    ]);
  });

  it("are read only from a mapped task, not from its items or a plain task", () => {
    const counts = { items: 1, not_started: 1, states: [] };
    expect(mappedCounts({ ...item(1, "running"), map: { mapped: counts } })).toBe(counts);
    expect(mappedCounts(item(1, "running"))).toBeUndefined();
    expect(mappedCounts({ ...item(1, "running"), map: null })).toBeUndefined();
    expect(mappedCounts(undefined)).toBeUndefined();
  });
});

describe("items table", () => {
  it("takes a known filter from the URL and anything else as all", () => {
    expect(itemFilter("failed")).toBe("failed");
    expect(itemFilter(null)).toBe("all");
    expect(itemFilter("nonsense")).toBe("all");
  });

  it("merges pages in order, a row repeated by a later page once, its newer state kept", () => {
    const merged = mergePages([{ items: [item(0, "succeeded"), item(1, "running")], next_cursor: "c1" }, { items: [item(1, "failed"), item(2, "running")] }]);
    expect(merged.map((i) => [i.id, i.state])).toEqual([
      [0, "succeeded"],
      [1, "failed"],
      [2, "running"],
    ]);
  });
});

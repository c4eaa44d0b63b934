import { describe, expect, it } from "vitest";
import { lastStart, runSquares, search, sortKey, sortRows, type Row } from "./workflowlist";

const run = (id: number, state: string, started?: string) => ({
  id,
  state,
  submitted_at: "2026-01-01T00:00:00Z",
  started_at: started,
});
const rows: Row[] = [
  { name: "beta", latest_version: 3, recent_runs: [run(9, "failed", "2026-01-03T00:00:00Z"), run(4, "succeeded", "2026-01-01T00:00:00Z")] },
  { name: "alpha", latest_version: 7, recent_runs: [run(8, "succeeded", "2026-01-05T00:00:00Z")] },
  { name: "Gamma", latest_version: 3, recent_runs: [] },
  { name: "delta", latest_version: 1, recent_runs: [run(10, "running")] },
];
const names = (rs: Row[]) => rs.map((r) => r.name);

describe("the workflows list", () => {
  it("sorts by name, version, last start and state, both ways, never-run last", () => {
    expect(names(sortRows(rows, "name", true))).toEqual(["alpha", "beta", "delta", "Gamma"]);
    expect(names(sortRows(rows, "name", false))).toEqual(["Gamma", "delta", "beta", "alpha"]);
    expect(names(sortRows(rows, "version", false))).toEqual(["alpha", "beta", "Gamma", "delta"]);
    // delta has not started: its request time stands for its start.
    expect(names(sortRows(rows, "last_start", false))).toEqual(["alpha", "beta", "delta", "Gamma"]);
    expect(names(sortRows(rows, "last_start", true))).toEqual(["delta", "beta", "alpha", "Gamma"]);
    expect(names(sortRows(rows, "state", true))).toEqual(["beta", "delta", "alpha", "Gamma"]);
  });
  it("reads a sort key from the URL, by name otherwise", () => {
    expect(sortKey("state")).toBe("state");
    expect(sortKey("bogus")).toBe("name");
    expect(sortKey(null)).toBe("name");
  });
  it("searches names in any case", () => {
    expect(names(search(rows, "GAM"))).toEqual(["Gamma"]);
    expect(search(rows, " ")).toHaveLength(4);
  });
  it("knows when the last run started", () => {
    expect(lastStart(rows[0]!)).toBe(Date.parse("2026-01-03T00:00:00Z"));
    expect(lastStart(rows[2]!)).toBeNull();
  });
  it("draws the last runs oldest first, coloured by state, at most n", () => {
    expect(runSquares(rows[0]!)).toEqual([
      { id: 4, state: "succeeded", tone: "ok" },
      { id: 9, state: "failed", tone: "bad" },
    ]);
    const many: Row = { name: "m", latest_version: 1, recent_runs: Array.from({ length: 12 }, (_, i) => run(100 - i, "running")) };
    const squares = runSquares(many);
    expect(squares).toHaveLength(10);
    expect(squares[0]!.id).toBe(91);
    expect(squares[9]!.id).toBe(100);
    expect(squares[9]!.tone).toBe("active");
  });
});

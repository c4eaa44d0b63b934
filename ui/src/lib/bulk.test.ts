import { describe, expect, it } from "vitest";
import { bulkPlan, bulkSummary, runBulk, type BulkResult } from "./bulk";

const list = [
  { id: 1, state: "running" },
  { id: 2, state: "succeeded" },
  { id: 3, state: "failed" },
  { id: 4, state: "paused" },
];

describe("bulk commands", () => {
  it("sends a stop only to instances that can stop, and says why the others were skipped", () => {
    const plan = bulkPlan(list, new Set([1, 2, 4]), "stop");
    expect(plan.send).toEqual([1, 4]);
    expect([...plan.skipped.keys()]).toEqual([2]);
    expect(plan.skipped.get(2)?.message).toMatch(/succeeded instance cannot be stopped/);
  });
  it("sends a rerun only to ended instances", () => {
    const plan = bulkPlan(list, new Set([1, 2, 3]), "rerun");
    expect(plan.send).toEqual([2, 3]);
    expect(plan.skipped.get(1)?.outcome).toBe("skipped");
  });
  it("gives every id its result, a failure of one not stopping the others", async () => {
    let inFlight = 0;
    let most = 0;
    const results = await runBulk(
      [1, 2, 3, 4, 5],
      async (id): Promise<BulkResult> => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        if (id === 2) throw new Error("network down");
        if (id === 3) return { outcome: "failed", message: "HTTP 409" };
        return { outcome: "done", message: "stopping" };
      },
      2,
    );
    expect([...results.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(results.get(2)).toEqual({ outcome: "failed", message: "network down" });
    expect(most).toBeLessThanOrEqual(2);
    results.set(9, { outcome: "skipped", message: "x" });
    expect(bulkSummary(results)).toBe("3 done, 2 failed, 1 skipped");
  });
});

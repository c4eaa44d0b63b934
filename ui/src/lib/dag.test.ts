import { describe, expect, it } from "vitest";
import { NODE_HEIGHT, dagEdges, layoutDag, type TaskDef } from "./dag";

const t = (name: string, extra: Partial<TaskDef> = {}): TaskDef => ({ name, type: "shell", ...extra });

describe("the DAG of a definition", () => {
  it("has an edge per dependency and per branch, none to unknown tasks", () => {
    const tasks = [
      t("count"),
      t("route", { type: "switch", depends_on: ["count"], cases: [{ when: "${rows} > 0", then: "load" }], default: ["skip"] }),
      t("load"),
      t("skip"),
      t("check", { type: "conditions", depends_on: ["load", "ghost"], success: ["publish"], failure: ["alert"] }),
      t("publish"),
      t("alert"),
    ];
    const edges = dagEdges(tasks).map((e) => `${e.from}->${e.to}:${e.kind}`);
    expect(edges).toEqual([
      "count->route:depends",
      "route->load:branch",
      "route->skip:branch",
      "load->check:depends",
      "check->publish:success",
      "check->alert:failure",
    ]);
  });

  it("places each task below the tasks it depends on, and parallel tasks side by side", () => {
    const { nodes } = layoutDag([t("a"), t("b", { depends_on: ["a"] }), t("c", { depends_on: ["a"] }), t("d", { depends_on: ["b", "c"] })]);
    const at = Object.fromEntries(nodes.map((n) => [n.id, n]));
    expect(at.b!.y).toBeGreaterThanOrEqual(at.a!.y + NODE_HEIGHT);
    expect(at.d!.y).toBeGreaterThanOrEqual(at.b!.y + NODE_HEIGHT);
    expect(at.b!.y).toBe(at.c!.y);
    expect(at.b!.x).not.toBe(at.c!.x);
  });
});

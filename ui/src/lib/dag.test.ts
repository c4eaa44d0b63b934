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

describe("the layered layout of a big DAG", () => {
  const big = (n: number): TaskDef[] =>
    Array.from({ length: n }, (_, i) => {
      const layer = Math.floor(i / 25);
      const deps = layer === 0 ? [] : [...new Set([(layer - 1) * 25 + (i % 25), (layer - 1) * 25 + ((i * 7) % 25)])];
      return t(`t${i}`, { depends_on: deps.map((d) => `t${d}`) });
    });
  it("puts every task below its upstream, and none on another in its row", () => {
    const tasks = big(1000);
    const { nodes } = layoutDag(tasks);
    const at = new Map(nodes.map((n) => [n.id, n]));
    for (const task of tasks) for (const d of task.depends_on ?? []) expect(at.get(d)!.y).toBeLessThan(at.get(task.name)!.y);
    const spots = new Set(nodes.map((n) => `${n.x},${n.y}`));
    expect(spots.size).toBe(1000);
  });
  it("takes well under a second for 1,000 tasks", () => {
    const tasks = big(1000);
    const start = performance.now();
    layoutDag(tasks);
    expect(performance.now() - start).toBeLessThan(1000);
  });
  it("ranks by the longest path: a task after a chain and a shortcut sits below the chain", () => {
    const tasks = [t("a"), t("b", { depends_on: ["a"] }), t("c", { depends_on: ["b", "a"] }), ...big(150).map((x) => ({ ...x, name: `z${x.name}`, depends_on: x.depends_on?.map((d) => `z${d}`) }))];
    const at = new Map(layoutDag(tasks).nodes.map((n) => [n.id, n.y]));
    expect(at.get("c")! - at.get("b")!).toBe(at.get("b")! - at.get("a")!);
  });
});

import { describe, expect, it } from "vitest";
import { filtersOf, kindTone, mergeNewest } from "./events";

describe("the event log", () => {
  it("reads its filters from the URL, dropping bad ones", () => {
    expect(filtersOf(new URLSearchParams("kind=task_failed&workflow=etl&instance=7&project=demo"))).toEqual({
      kind: "task_failed",
      workflow: "etl",
      instance: 7,
      project: "demo",
    });
    expect(filtersOf(new URLSearchParams("kind=nope&instance=x"))).toEqual({});
  });
  it("puts live events first, newest first, each once, capped", () => {
    const page = [{ id: 5 }, { id: 4 }];
    expect(mergeNewest([{ id: 6 }, { id: 7 }, { id: 5 }], page).map((e) => e.id)).toEqual([7, 6, 5, 4]);
    expect(mergeNewest([{ id: 6 }], page, 2).map((e) => e.id)).toEqual([6, 5]);
  });
  it("colours kinds", () => {
    expect(kindTone("task_failed")).toBe("bad");
    expect(kindTone("instance_succeeded")).toBe("ok");
    expect(kindTone("task_started")).toBe("queued");
  });
});

import { describe, expect, it } from "vitest";
import { TASK_STATES, WORKFLOW_STATES, stateColor, stateTone, typeColor } from "./states";
import schema from "../api/openapi.json";

describe("state colours", () => {
  it("give each outcome its own tone", () => {
    expect(stateTone("succeeded")).toBe("ok");
    expect(stateTone("failed")).toBe("bad");
    expect(stateTone("running")).toBe("active");
    expect(stateTone("retry_wait")).toBe("warn");
    expect(stateTone(undefined)).toBe("idle");
    expect(stateColor("succeeded")).toBe("var(--tone-ok)");
    expect(typeColor("python")).toBe("var(--type-python)");
    expect(typeColor("unknown")).toBe("var(--type-noop)");
  });

  it("know every state the API documents", () => {
    const doc = schema as unknown as { components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> } };
    expect([...TASK_STATES].sort()).toEqual([...doc.components.schemas.TaskInstance!.properties.state!.enum!].sort());
    expect([...WORKFLOW_STATES].sort()).toEqual([...doc.components.schemas.Instance!.properties.state!.enum!].sort());
    for (const s of TASK_STATES) expect(s === "submitted" || stateTone(s) !== "idle").toBe(true);
  });
});

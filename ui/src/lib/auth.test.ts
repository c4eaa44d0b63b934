import { describe, expect, it } from "vitest";
import { actionsFor } from "./actions";
import { can, roleOn } from "./auth";
import type { Schemas } from "../api/client";

const me = (roles: [string, string][], global_admin = false, token_role?: string): Schemas["Me"] =>
  ({ name: "u", global_admin, roles: roles.map(([project, role]) => ({ project, role })), token_role }) as Schemas["Me"];

describe("roles", () => {
  it("follow the user's membership, a global admin being admin everywhere", () => {
    const viewer = me([["demo", "viewer"]]);
    expect(roleOn(viewer, "demo")).toBe("viewer");
    expect(can(viewer, "demo", "viewer")).toBe(true);
    expect(can(viewer, "demo", "operator")).toBe(false);
    expect(can(viewer, "other", "viewer")).toBe(false);
    expect(can(me([], true), "anything", "admin")).toBe(true);
    expect(can(undefined, "demo", "viewer")).toBe(false);
  });

  it("are narrowed by a token's role", () => {
    expect(roleOn(me([["demo", "admin"]], false, "operator"), "demo")).toBe("operator");
    expect(roleOn(me([["demo", "viewer"]], false, "admin"), "demo")).toBe("viewer");
  });
});

describe("instance actions", () => {
  it("are those the state allows", () => {
    expect(actionsFor("running")).toEqual(["pause", "stop"]);
    expect(actionsFor("paused")).toEqual(["resume", "stop"]);
    expect(actionsFor("failed")).toEqual(["recover", "rerun"]);
    expect(actionsFor("succeeded")).toEqual(["rerun"]);
    expect(actionsFor("stopping")).toEqual([]);
  });
});

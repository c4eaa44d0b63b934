import { describe, expect, it } from "vitest";
import { checkValue, formErrors, formFields, serverErrors, startBody, type ParamDecl, type StartForm } from "./startform";

const rules: Record<string, ParamDecl> = {
  rows: { type: "int", min: 1, max: 10, required: true, description: "how many" },
  region: { type: "enum", values: ["eu", "us"] },
  dry: { type: "bool" },
  day: { type: "date" },
  ratio: { type: "number" },
  tag: { type: "string", pattern: "[a-z]+" },
};
const defaults = { region: "eu", plain: "x", dry: "false" };
const fields = formFields(defaults, rules);
const field = (name: string) => fields.find((f) => f.name === name)!;

const form = (values: Record<string, string>, more: Partial<StartForm> = {}): StartForm => ({
  values,
  extras: [],
  overrides: { failure_strategy: "", priority: "", worker_group: "" },
  fromTask: "",
  scope: "downstream",
  ...more,
});

describe("the start form's fields", () => {
  it("has one field per declared param, by name, with the input its rule calls for", () => {
    expect(fields.map((f) => [f.name, f.input])).toEqual([
      ["day", "date"],
      ["dry", "checkbox"],
      ["plain", "text"],
      ["ratio", "number"],
      ["region", "select"],
      ["rows", "int"],
      ["tag", "text"],
    ]);
    expect(field("rows")).toMatchObject({ hint: "int from 1 to 10", required: true, description: "how many", min: 1, max: 10 });
    expect(field("region")).toMatchObject({ values: ["eu", "us"], default: "eu", hint: "one of eu, us" });
    expect(field("tag").hint).toBe("string matching [a-z]+");
  });
});

describe("checking a value as the server does", () => {
  it("checks ints and their bounds", () => {
    expect(checkValue(field("rows"), "3")).toBeNull();
    expect(checkValue(field("rows"), "0")).toBe("less than 1");
    expect(checkValue(field("rows"), "11")).toBe("more than 10");
    expect(checkValue(field("rows"), "2.5")).toBe("not a whole number");
    expect(checkValue(field("rows"), "")).toBe("required");
  });
  it("checks dates, numbers, enums and whole-value patterns", () => {
    expect(checkValue(field("day"), "2026-02-30")).toMatch(/not a date/);
    expect(checkValue(field("day"), "2026-02-28")).toBeNull();
    expect(checkValue(field("ratio"), "1e3")).toBeNull();
    expect(checkValue(field("ratio"), "abc")).toBe("not a number");
    expect(checkValue(field("region"), "mars")).toBe("not one of eu, us");
    expect(checkValue(field("tag"), "abc")).toBeNull();
    expect(checkValue(field("tag"), "abc1")).toBe("does not match [a-z]+");
  });
  it("leaves a time expression or a reference to the server, and an empty optional value alone", () => {
    expect(checkValue(field("day"), "$[yyyy-MM-dd]")).toBeNull();
    expect(checkValue(field("day"), "")).toBeNull();
  });
  it("names every field with a problem", () => {
    expect(formErrors(fields, { rows: "", region: "mars" })).toEqual({ rows: "required", region: "not one of eu, us" });
  });
});

describe("the body of a start", () => {
  it("sends only what differs from the defaults, required values always, and the overrides given", () => {
    const body = startBody(
      fields,
      form(
        { rows: "3", region: "eu", dry: "true", plain: "x" },
        { overrides: { failure_strategy: "end", priority: "", worker_group: " gpu " }, extras: [["extra", "1"], [" ", "z"]] },
      ),
    );
    expect(body).toEqual({
      params: { rows: "3", dry: "true", extra: "1" },
      from_task: undefined,
      scope: undefined,
      failure_strategy: "end",
      priority: undefined,
      worker_group: "gpu",
    });
  });
  it("sends the scope only with a start task", () => {
    expect(startBody(fields, form({ rows: "1" }, { fromTask: "b", scope: "self" }))).toMatchObject({ from_task: "b", scope: "self" });
  });
});

describe("the server's refusal at its fields", () => {
  it("maps params.NAME, worker_group and from_task to their fields, and the rest to the form", () => {
    const error = {
      error: {
        code: "bad_params",
        message: "param `rows`: …",
        problems: [
          { field: "params.rows", message: "param `rows`: 11 is more than 10" },
          { field: "params.rows", message: "again" },
          { field: "worker_group", message: "bad name" },
        ],
      },
    };
    expect(serverErrors(error)).toEqual({ rows: "param `rows`: 11 is more than 10; again", worker_group: "bad name" });
    expect(serverErrors({ error: { code: "undefined_params", message: "task a: ${x} is undefined" } })).toEqual({
      "": "task a: ${x} is undefined",
    });
  });
});

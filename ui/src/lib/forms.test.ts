import { expect, it } from "vitest";
import { blocksSend, fieldError, generalErrors, nameProblem, refusal } from "./forms";

it("a refusal is shown at the fields its problems name, a taken name at the name", () => {
  const bad = { error: { code: "bad_channel", message: "m", problems: [{ field: "settings.url", message: "the webhook URL is not a URL" }] } };
  expect(refusal(400, bad)).toEqual({ "settings.url": "the webhook URL is not a URL" });
  expect(refusal(409, { error: { code: "conflict", message: "alert channel `a` already exists" } })).toEqual({ name: "alert channel `a` already exists" });
  expect(refusal(503, { error: { code: "unavailable", message: "no secret key" } })).toEqual({ "": "no secret key" });
  expect(refusal(502, undefined)).toEqual({ "": "HTTP 502" });
  expect(generalErrors({ name: "n", "": "g", other: "o" }, ["name"])).toEqual([["", "g"], ["other", "o"]]);
});

it("names follow the server's rule", () => {
  expect(nameProblem("ops-slack.v2_x")).toBeUndefined();
  expect(nameProblem("a b")).toBeDefined();
  expect(nameProblem("x".repeat(101))).toBeDefined();
  expect(nameProblem("")).toBeDefined();
});

it("a field shows the server's problem first, its own only once a send was tried", () => {
  const local = { name: "a name is needed", url: "a URL is needed" };
  expect(fieldError({}, local, false, "name")).toBeUndefined();
  expect(fieldError({}, local, true, "name")).toBe("a name is needed");
  expect(fieldError({ name: "taken" }, local, false, "name")).toBe("taken");
  expect(fieldError({ name: "taken" }, local, true, "name")).toBe("taken");
  expect(fieldError({ name: "taken" }, local, true, "url")).toBe("a URL is needed");
  expect(fieldError({}, {}, true, "name")).toBeUndefined();
});

it("any problem of the form's own check stops a send, one of the whole form too", () => {
  expect(blocksSend({})).toBe(false);
  expect(blocksSend({ name: "a name is needed" })).toBe(true);
  expect(blocksSend({ "": "pick an event" })).toBe(true);
});

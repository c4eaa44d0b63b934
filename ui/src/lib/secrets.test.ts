import { expect, it } from "vitest";
import { MAX_SECRET_BYTES, secretErrors } from "./secrets";

it("a secret's name is a param name and its value is not empty nor over 64 KiB", () => {
  expect(secretErrors({ name: "api_token", value: "x" })).toEqual({});
  expect(secretErrors({ name: "api.token", value: "x" }).name).toMatch(/letters, digits and _/);
  expect(secretErrors({ name: "1token", value: "x" }).name).toMatch(/not starting with a digit/);
  expect(secretErrors({ name: "", value: "x" }).name).toMatch(/needed/);
  expect(secretErrors({ name: "t", value: "" }).value).toMatch(/needed/);
  expect(secretErrors({ name: "t", value: "é".repeat(MAX_SECRET_BYTES / 2 + 1) }).value).toMatch(/at most/);
});

import { describe, expect, it } from "vitest";
import openapi from "../api/openapi.json";
import { DATASOURCE_TYPES, dataSourceBody, dataSourceErrors, urlHasPassword, type DataSourceForm } from "./datasources";

const form = (f: Partial<DataSourceForm>): DataSourceForm => ({ name: "wh", type: "postgresql", url: "postgres://etl@db:5432/wh", password: "", ...f });

describe("the data source form", () => {
  it("offers every type of the API", () => {
    expect([...DATASOURCE_TYPES].sort()).toEqual([...openapi.components.schemas.DataSourceType.enum].sort());
  });

  it("takes a good form and names each bad field", () => {
    expect(dataSourceErrors(form({}))).toEqual({});
    expect(dataSourceErrors(form({ type: "sqlite", url: "sqlite:///tmp/a.db" }))).toEqual({});
    expect(dataSourceErrors(form({ name: "bad name" })).name).toMatch(/letters, digits/);
    expect(dataSourceErrors(form({ name: "" })).name).toMatch(/needed/);
    expect(dataSourceErrors(form({ url: "" })).url).toMatch(/needed/);
    expect(dataSourceErrors(form({ type: "mysql" })).url).toBe("a mysql URL starts with mysql:// or mariadb://");
    expect(dataSourceErrors(form({ type: "sqlite", url: "sqlite:///a.db", password: "p" })).password).toMatch(/no password/);
  });

  it("keeps the password out of the URL: one typed there is refused, the password field goes in the body", () => {
    expect(urlHasPassword("postgres://etl:s3cret@db/wh")).toBe(true);
    expect(urlHasPassword("postgres://etl@db/wh")).toBe(false);
    expect(urlHasPassword("sqlite:///tmp/a:b@c.db")).toBe(false);
    expect(dataSourceErrors(form({ url: "postgres://etl:s3cret@db/wh" })).url).toMatch(/password field/);
    expect(dataSourceBody(form({ password: "s3cret", name: " wh " }))).toEqual({ name: "wh", type: "postgresql", url: "postgres://etl@db:5432/wh", password: "s3cret" });
    expect(dataSourceBody(form({}))).not.toHaveProperty("password");
  });
});

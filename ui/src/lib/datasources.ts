// The data source form: its fields, their checks before anything is sent (the server stays
// the judge), and the body of `POST /datasources`. The password has a field of its own and
// is sent once, in the body: never in the URL, the query or any storage.
import type { Schemas } from "../api/client";
import { nameProblem, type FieldErrors } from "./forms";

/** A kind of database, as the API names it. */
export type DataSourceType = Schemas["DataSourceType"];

/** Every kind, in the order the form offers them. */
export const DATASOURCE_TYPES: readonly DataSourceType[] = ["postgresql", "mysql", "sqlite"];

/** What the form holds. */
export interface DataSourceForm {
  name: string;
  type: DataSourceType;
  url: string;
  password: string;
}

/** The form's fields, in the server's names, for its refusals. */
export const DATASOURCE_FIELDS = ["name", "type", "url", "password"];

/** An example URL of each kind (the input's placeholder). */
export function urlExample(type: DataSourceType): string {
  switch (type) {
    case "postgresql":
      return "postgres://etl@db.internal:5432/warehouse";
    case "mysql":
      return "mysql://app@127.0.0.1:3306/shop";
    case "sqlite":
      return "sqlite:///var/lib/etl/local.db";
  }
}

const SCHEMES: Record<DataSourceType, string[]> = {
  postgresql: ["postgres", "postgresql"],
  mysql: ["mysql", "mariadb"],
  sqlite: ["sqlite"],
};

/** Whether a URL holds a password (`user:password@host`). */
export function urlHasPassword(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(url.trim());
}

/** What is wrong with the form, by field (empty when it may be sent). */
export function dataSourceErrors(f: DataSourceForm): FieldErrors {
  const out: FieldErrors = {};
  const name = nameProblem(f.name.trim());
  if (name) out.name = name;
  const url = f.url.trim();
  const scheme = url.split(":")[0]?.toLowerCase() ?? "";
  if (!url) out.url = "a URL is needed";
  else if (!SCHEMES[f.type].includes(scheme))
    out.url = `a ${f.type} URL starts with ${SCHEMES[f.type].map((s) => `${s}://`).join(" or ")}`;
  else if (urlHasPassword(url)) out.url = "put the password in the password field, not in the URL";
  if (f.type === "sqlite" && f.password) out.password = "an SQLite file takes no password";
  return out;
}

/** The body of the create: the password only when one was typed. */
export function dataSourceBody(f: DataSourceForm): Schemas["DataSourceRequest"] {
  const body: Schemas["DataSourceRequest"] = { name: f.name.trim(), type: f.type, url: f.url.trim() };
  if (f.password && f.type !== "sqlite") body.password = f.password;
  return body;
}

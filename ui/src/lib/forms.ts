// What the settings pages' forms share: a refusal's problems by the field they name, and the
// name rule every object of a project follows.
import { serverErrors } from "./startform";

/** Problems by field (`""` for those of the whole form). */
export type FieldErrors = Record<string, string>;

/** The rule of a name (data source, channel), as the server checks it (`spec::valid_name`). */
export function nameProblem(name: string): string | undefined {
  if (!name) return "a name is needed";
  if (name.length > 100) return "at most 100 characters";
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) return "use letters, digits, _ - . only";
  return undefined;
}

/** The server's refusal by field: each problem at the field it names, a 409 of a create
 * (the name is taken in the project) at `name`, anything else for the whole form. */
export function refusal(status: number, error: unknown): FieldErrors {
  const byField = serverErrors(error);
  if (status === 409 && byField[""]) return { name: byField[""] };
  if (!Object.keys(byField).length) return { "": `HTTP ${status}` };
  return byField;
}

/** The problems of a form that no field of `shown` shows (said for the whole form). */
export function generalErrors(errors: FieldErrors, shown: string[]): [string, string][] {
  return Object.entries(errors).filter(([k]) => !shown.includes(k));
}

/** The problem a field shows: the server's for it first, then the form's own check once a
 * send was tried (not while the user is still typing the first time). */
export function fieldError(server: FieldErrors, local: FieldErrors, touched: boolean, field: string): string | undefined {
  return server[field] ?? (touched ? local[field] : undefined);
}

/** Whether the form's own check stops a send (any problem, of a field or of the whole form). */
export function blocksSend(local: FieldErrors): boolean {
  return Object.keys(local).length > 0;
}

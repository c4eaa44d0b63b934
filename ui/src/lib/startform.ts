// The start dialog's form, computed from the workflow's declared params (`params` defaults
// and `param_rules`): one field per param with the input its rule calls for, the rule in
// words, a check of a value as the server checks it (the server stays the judge: its
// answer is shown at the field too), and the body of the start or its dry run.

import { isDate } from "./backfill";

/** A declared param's rule, as the definition's `param_rules` gives it. */
export type ParamDecl =
  | { type: "string"; pattern?: string; required?: boolean; description?: string }
  | { type: "int"; min?: number; max?: number; required?: boolean; description?: string }
  | { type: "number" | "bool" | "date"; required?: boolean; description?: string }
  | { type: "enum"; values: string[]; required?: boolean; description?: string };

/** Which input a field is. */
export type InputKind = "text" | "int" | "number" | "date" | "select" | "checkbox";

/** One field of the form. */
export interface Field {
  name: string;
  input: InputKind;
  /** The rule in words, shown beside the input (`int from 1 to 10`). */
  hint: string;
  /** The workflow's default, if it has one. */
  default?: string;
  required: boolean;
  description?: string;
  /** For a select: the values allowed. */
  values?: string[];
  min?: number;
  max?: number;
  pattern?: string;
}

/** The rule in words, as the server says it (`core::spec::ParamRule::describe`). */
export function describeRule(rule: ParamDecl | undefined): string {
  if (!rule) return "string";
  switch (rule.type) {
    case "string":
      return rule.pattern ? `string matching ${rule.pattern}` : "string";
    case "int": {
      const { min, max } = rule;
      if (min !== undefined && max !== undefined) return `int from ${min} to ${max}`;
      if (min !== undefined) return `int, at least ${min}`;
      if (max !== undefined) return `int, at most ${max}`;
      return "int";
    }
    case "number":
      return "number";
    case "bool":
      return "true or false";
    case "date":
      return "date, YYYY-MM-DD";
    case "enum":
      return `one of ${rule.values.join(", ")}`;
  }
}

function inputOf(rule: ParamDecl | undefined): InputKind {
  switch (rule?.type) {
    case undefined:
    case "string":
      return "text";
    case "int":
      return "int";
    case "number":
      return "number";
    case "bool":
      return "checkbox";
    case "date":
      return "date";
    case "enum":
      return "select";
  }
}

/** The fields of the form, by name: every param with a default or a rule. */
export function formFields(defaults: Record<string, string>, rules: Record<string, ParamDecl>): Field[] {
  const names = [...new Set([...Object.keys(defaults), ...Object.keys(rules)])].sort();
  return names.map((name) => {
    const rule = rules[name];
    const field: Field = {
      name,
      input: inputOf(rule),
      hint: describeRule(rule),
      default: defaults[name],
      required: !!rule?.required,
      description: rule?.description || undefined,
    };
    if (rule?.type === "enum") field.values = rule.values;
    if (rule?.type === "int") Object.assign(field, { min: rule.min, max: rule.max });
    if (rule?.type === "string" && rule.pattern) field.pattern = rule.pattern;
    return field;
  });
}

/** The value a field starts with: its default, or empty (`false` for a checkbox). */
export function initialValue(f: Field): string {
  return f.default ?? (f.input === "checkbox" ? "false" : "");
}

/** A value that holds a time expression or a reference is checked by the server once it
 * is resolved: the form does not judge it. */
const RESOLVED_LATER = /\$\[|\$\{/;

/** What is wrong with a value of the field, or null. An empty value of a field that is not
 * required is not sent, so it is fine. */
export function checkValue(f: Field, value: string): string | null {
  if (value === "") return f.required ? "required" : null;
  if (RESOLVED_LATER.test(value)) return null;
  switch (f.input) {
    case "int": {
      if (!/^[+-]?\d+$/.test(value)) return "not a whole number";
      const n = Number(value);
      if (f.min !== undefined && n < f.min) return `less than ${f.min}`;
      if (f.max !== undefined && n > f.max) return `more than ${f.max}`;
      return null;
    }
    case "number":
      return value.trim() !== "" && Number.isFinite(Number(value)) ? null : "not a number";
    case "checkbox":
      return value === "true" || value === "false" ? null : "not true or false";
    case "date":
      return isDate(value) ? null : "not a date (YYYY-MM-DD)";
    case "select":
      return f.values?.includes(value) ? null : `not one of ${f.values?.join(", ")}`;
    case "text":
      return checkPattern(f.pattern, value);
  }
}

/** The whole value must match; a pattern JavaScript cannot read is left to the server. */
function checkPattern(pattern: string | undefined, value: string): string | null {
  if (!pattern) return null;
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${pattern})$`, "u");
  } catch {
    return null;
  }
  return re.test(value) ? null : `does not match ${pattern}`;
}

/** The problem of each field that has one, by field name. */
export function formErrors(fields: Field[], values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    const problem = checkValue(f, values[f.name] ?? initialValue(f));
    if (problem) out[f.name] = problem;
  }
  return out;
}

/** The overrides of the start; empty strings mean "the workflow's". */
export interface Overrides {
  failure_strategy: "" | "end" | "continue";
  priority: "" | "highest" | "high" | "medium" | "low" | "lowest";
  worker_group: string;
}

/** Everything the form holds. */
export interface StartForm {
  values: Record<string, string>;
  /** Params the workflow does not declare (only when it takes them), as name/value rows. */
  extras: [string, string][];
  overrides: Overrides;
  fromTask: string;
  scope: string;
}

/** The body of `POST …/start` (and of its dry run): only the values that differ from the
 * workflow's defaults are sent (a start param wins over a task's own), required ones always. */
export function startBody(fields: Field[], form: StartForm) {
  const params: Record<string, string> = {};
  for (const f of fields) {
    const value = form.values[f.name] ?? initialValue(f);
    const changed = value !== (f.default ?? (f.input === "checkbox" ? "false" : ""));
    if ((changed || f.required) && value !== "") params[f.name] = value;
  }
  for (const [k, v] of form.extras) if (k.trim()) params[k.trim()] = v;
  const o = form.overrides;
  return {
    params,
    from_task: form.fromTask || undefined,
    scope: form.fromTask ? (form.scope as "downstream" | "self" | "upstream") : undefined,
    failure_strategy: o.failure_strategy || undefined,
    priority: o.priority || undefined,
    worker_group: o.worker_group.trim() || undefined,
  };
}

/** The server's refusal by field (`params.NAME` → `NAME`, `worker_group`, `from_task`), from
 * the `problems` of its error body; what names no field is under `""`. */
export function serverErrors(error: unknown): Record<string, string> {
  const e = error as { error?: { message?: string; problems?: { field?: string; message?: string }[] } } | undefined;
  const out: Record<string, string> = {};
  for (const p of e?.error?.problems ?? []) {
    if (!p.field || !p.message) continue;
    const key = p.field.startsWith("params.") ? p.field.slice("params.".length) : p.field;
    out[key] = out[key] ? `${out[key]}; ${p.message}` : p.message;
  }
  if (!Object.keys(out).length && e?.error?.message) out[""] = e.error.message;
  return out;
}

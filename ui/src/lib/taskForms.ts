// What the workflow editor knows of each task type: its palette entry, the fields a new
// task of it starts with, and the form of its own fields. The palette and the side form are
// made from this table only, so that a new task type is one entry here (and its colour and
// mark in `states.ts`). The fields common to every task are `COMMON_FIELDS`.
import { parse, stringify } from "yaml";

/** How a field is edited. */
export type FieldKind =
  /** One line of text. */
  | "text"
  /** Several lines (a command, a script): written as a block scalar. */
  | "code"
  /** A whole number. */
  | "number"
  /** One of `options`. */
  | "select"
  /** A list of strings, one a line (task names, statuses). */
  | "list"
  /** A map of strings, one `key: value` a line (headers, env, outputs). */
  | "map"
  /** Any YAML value, edited as YAML text (a JSON body, a dependence, switch cases). */
  | "yaml"
  /** On or off (a checkbox): `true` when on, absent when off. */
  | "flag";

/** A field of a task's form. */
export interface FieldDef {
  /** The key in the task's mapping; `outer.inner` for a field of a mapping in it (`map.over`). */
  key: string;
  /** Its label. */
  label: string;
  kind: FieldKind;
  /** The choices of a `select`. */
  options?: readonly string[];
  /** What the field means, shown under it. */
  help?: string;
  /** A `list` of numbers (statuses) rather than strings. */
  numbers?: boolean;
}

/** A task type as the editor offers it. */
export interface TaskForm {
  /** Its name in the palette. */
  label: string;
  /** The fields a new task of the type is given (beside `name` and `type`). */
  template: Record<string, unknown>;
  /** Its own fields, in form order. */
  fields: FieldDef[];
}

const PRIORITIES = ["highest", "high", "medium", "low", "lowest"] as const;

/** Every task type, in palette order. */
export const TASK_FORMS: Record<string, TaskForm> = {
  shell: {
    label: "Shell",
    template: { command: "echo hello" },
    fields: [
      { key: "command", label: "Command", kind: "code", help: "Run by bash; may use ${param}" },
      { key: "script", label: "Script", kind: "code", help: "The same as command, for a long program" },
    ],
  },
  python: {
    label: "Python",
    template: { script: "print('hello')" },
    fields: [{ key: "script", label: "Script", kind: "code", help: "Run by python3" }],
  },
  noop: { label: "No-op", template: {}, fields: [] },
  http: {
    label: "HTTP",
    template: { method: "GET", url: "https://example.com/" },
    fields: [
      { key: "method", label: "Method", kind: "select", options: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] },
      { key: "url", label: "URL", kind: "text" },
      { key: "headers", label: "Headers", kind: "map", help: "One `Name: value` a line" },
      { key: "body", label: "JSON body", kind: "yaml", help: "A JSON (or YAML) value" },
      { key: "body_text", label: "Text body", kind: "code" },
      { key: "expect_status", label: "Expected statuses", kind: "list", numbers: true, help: "One a line; none: any 2xx" },
      { key: "outputs", label: "Outputs", kind: "map", help: "One `name: /json/pointer` a line" },
    ],
  },
  sql: {
    label: "SQL",
    template: { datasource: "warehouse", sql: "select 1 as one" },
    fields: [
      { key: "datasource", label: "Data source", kind: "text", help: "A data source of the project (baton datasource list)" },
      { key: "sql", label: "SQL", kind: "code", help: "Statements separated by `;`; ${param} becomes a bound value" },
      { key: "outputs", label: "Outputs", kind: "select", options: ["none", "first_row", "all_rows"], help: "From the last statement's result" },
      { key: "max_rows", label: "Rows in the log", kind: "number", help: "Default 1000; the rest are counted" },
      { key: "transaction", label: "In one transaction", kind: "yaml", help: "true: every statement or none" },
    ],
  },
  service: {
    label: "Service",
    template: { command: "python3 -m http.server 8080 --bind 127.0.0.1" },
    fields: [
      { key: "command", label: "Command", kind: "code", help: "The server, run by bash until the instance is stopped" },
      { key: "restart", label: "Restart", kind: "select", options: ["always", "on_failure", "never"], help: "When its process is started again after it ends" },
      { key: "restart_backoff", label: "Restart backoff", kind: "text", help: "MIN..MAX, e.g. 1s..1m (doubled each restart)" },
      { key: "health", label: "Health check", kind: "yaml", help: "{http: http://127.0.0.1:PORT/, interval: 10s, failures: 3} or {command: CMD}" },
    ],
  },
  sub_workflow: {
    label: "Sub-workflow",
    template: { workflow: "other-workflow" },
    fields: [
      { key: "workflow", label: "Workflow", kind: "text", help: "A workflow of the same project" },
      { key: "version", label: "Version", kind: "number", help: "Empty: the latest when the task starts" },
    ],
  },
  dependent: {
    label: "Dependent",
    template: { dependence: { workflow: "other-workflow" } },
    fields: [
      { key: "dependence", label: "Dependence", kind: "yaml", help: "What must have succeeded" },
      { key: "check_interval", label: "Check interval", kind: "text", help: "e.g. 30s" },
    ],
  },
  conditions: {
    label: "Conditions",
    template: { success: [], failure: [] },
    fields: [
      { key: "condition", label: "Condition", kind: "yaml", help: "Empty: every upstream task succeeded" },
      { key: "success", label: "On success", kind: "list", help: "Task names, one a line" },
      { key: "failure", label: "On failure", kind: "list", help: "Task names, one a line" },
    ],
  },
  switch: {
    label: "Switch",
    template: { cases: [{ when: "${x} == 1", then: [] }] },
    fields: [
      { key: "cases", label: "Cases", kind: "yaml", help: "A list of {when, then}" },
      { key: "default", label: "Default branch", kind: "list", help: "Task names, one a line" },
    ],
  },
};

/** The fields every task has (besides `name`, `type` and `depends_on`, which the form shows
 * apart), in form order. */
export const COMMON_FIELDS: FieldDef[] = [
  { key: "retries", label: "Retries", kind: "number" },
  { key: "retry_interval", label: "Retry interval", kind: "text", help: "e.g. 10s, 1m" },
  { key: "timeout", label: "Timeout", kind: "text", help: "e.g. 5m" },
  { key: "timeout_strategy", label: "Timeout strategy", kind: "select", options: ["fail", "warn", "both"] },
  { key: "worker_group", label: "Worker group", kind: "text" },
  { key: "priority", label: "Priority", kind: "select", options: PRIORITIES },
  { key: "failover", label: "Failover", kind: "select", options: ["rerun", "fail"] },
  { key: "task_group", label: "Task group", kind: "text" },
  { key: "task_group_priority", label: "Task group priority", kind: "select", options: PRIORITIES },
  { key: "env", label: "Environment", kind: "map", help: "One `NAME: value` a line" },
  { key: "params", label: "Local params", kind: "map", help: "One `name: value` a line" },
];

/** The task types whose task may be mapped (`map:`): those a worker runs as a program, and
 * `noop` (the core's `spec/map.rs` says the same). */
export const MAPPABLE: ReadonlySet<string> = new Set(["shell", "python", "noop"]);

/** The fields of `map:` (one task instance per item of a list), under the key `map`. */
export const MAP_FIELDS: FieldDef[] = [
  { key: "map.over", label: "Map over", kind: "text", help: "The list: one ${name} reference (a param or an upstream output holding a JSON list); empty: not mapped; a cross product of lists is written in the YAML tab" },
  { key: "map.as", label: "Item name", kind: "text", help: "The item's name inside the task, used as ${name}" },
  { key: "map.parallel", label: "Items at once", kind: "number", help: "Empty: as many as worker slots allow" },
  { key: "map.max_items", label: "Most items", kind: "number", help: "A longer list fails the task; default 10000, at most 100000" },
  { key: "map.failure", label: "A failed item", kind: "select", options: ["end", "continue"], help: "end (default): start no more items; continue: run them all" },
];

/** The task types that may run once on every live worker of their group (`broadcast:`):
 * those a worker runs as a program (the core's `spec/broadcast.rs` says the same). */
export const BROADCASTABLE: ReadonlySet<string> = new Set(["shell", "python"]);

/** `broadcast: true`: one item per live worker of the group (not with `map:`). */
export const BROADCAST_FIELD: FieldDef = {
  key: "broadcast",
  label: "Broadcast",
  kind: "flag",
  help: "Once on every live worker of the group when the task becomes ready (not with Map over)",
};

/** The task types of the palette, in order. */
export const PALETTE = Object.keys(TASK_FORMS);

/** The fields of a task of `type`: its own, its `map:` when it may be mapped, then the
 * common ones (an unknown type: only the common ones, its own edited in the YAML tab). */
export function fieldsOf(type: string): FieldDef[] {
  return [
    ...(TASK_FORMS[type]?.fields ?? []),
    ...(BROADCASTABLE.has(type) ? [BROADCAST_FIELD] : []),
    ...(MAPPABLE.has(type) ? MAP_FIELDS : []),
    ...COMMON_FIELDS,
  ];
}

/** The value at a field's key (`map.over`: `over` of the mapping at `map`) in a task's fields. */
export function valueAt(fields: Record<string, unknown>, key: string): unknown {
  let v: unknown = fields;
  for (const part of key.split(".")) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** The id of a field's input (a dotted key's dots as dashes: ids end up in CSS selectors). */
export function fieldId(key: string): string {
  return `field-${key.replace(/\./g, "-")}`;
}

/** A field's value as the form shows it. */
export function shown(f: FieldDef, v: unknown): string {
  if (v === undefined || v === null) return "";
  switch (f.kind) {
    case "list":
      return Array.isArray(v) ? v.map(String).join("\n") : String(v);
    case "map":
      return typeof v === "object" ? Object.entries(v as object).map(([k, x]) => `${k}: ${x}`).join("\n") : String(v);
    case "yaml":
      return stringify(v, { lineWidth: 0 }).trimEnd();
    case "flag":
      return v === true ? "true" : typeof v === "object" ? JSON.stringify(v) : String(v);
    case "text":
    case "code":
    case "number":
    case "select":
      return typeof v === "object" ? JSON.stringify(v) : String(v);
  }
}

/** What the form's text of a field writes into the file; `Err` when it is not readable yet
 * (YAML being typed). */
export function written(f: FieldDef, s: string): { value: unknown } | { error: string } {
  switch (f.kind) {
    case "list": {
      const items = s.split("\n").map((l) => l.trim()).filter(Boolean);
      return { value: f.numbers ? items.map((i) => (Number.isFinite(Number(i)) ? Number(i) : i)) : items };
    }
    case "map": {
      const out: Record<string, string> = {};
      for (const line of s.split("\n")) {
        const at = line.indexOf(":");
        if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
      }
      return { value: out };
    }
    case "yaml":
      if (s.trim() === "") return { value: undefined };
      try {
        return { value: parse(s) };
      } catch (e) {
        return { error: `not valid YAML yet: ${(e as Error).message.split("\n")[0]}` };
      }
    case "number":
      return { value: s.trim() === "" ? undefined : Number.isFinite(Number(s)) ? Number(s) : s };
    case "flag":
      return { value: s === "true" ? true : undefined };
    case "text":
    case "code":
    case "select":
      return { value: s === "" ? undefined : s };
  }
}

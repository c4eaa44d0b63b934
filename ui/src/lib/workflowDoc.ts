// The workflow editor's model: the YAML text is the one truth, and every graph or form edit
// is a change to its `yaml` Document (parse, change the nodes concerned, print), so that the
// comments, the order and the style of everything the edit does not touch survive it. Also:
// which task (and field) of the text a problem's line falls in.
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Node,
  type Pair,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";
import { BROADCASTABLE, MAPPABLE, TASK_FORMS } from "./taskForms";

/** A task as the graph and the form see it. */
export interface EditorTask {
  name: string;
  type: string;
  depends_on: string[];
  /** Every field of its mapping, as plain values. */
  fields: Record<string, unknown>;
}

/** What the text holds: its own fields, its tasks, and its YAML syntax errors (none: graph
 * edits work). */
export interface Model {
  /** The workflow's fields other than its tasks (`name`, `description`, …). */
  workflow: Record<string, unknown>;
  tasks: EditorTask[];
  syntax: { message: string; line?: number; column?: number }[];
}

/** A problem of the server's validation, as `problems` of a 400 gives it. */
export interface Problem {
  message: string;
  line?: number | null;
  column?: number | null;
  task?: string | null;
}

/** Where a problem is: the task (and the field of it) its line falls in. */
export interface Target {
  task?: string;
  field?: string;
}

/** How the edited text is printed: no folding of long lines, flow maps as `{a: 1}`. */
const PRINT = { lineWidth: 0, flowCollectionPadding: false } as const;

const parse = (text: string, lineCounter?: LineCounter) => parseDocument(text, { lineCounter, keepSourceTokens: false });

function taskSeq(doc: Document): YAMLSeq | undefined {
  const seq = doc.get("tasks", true);
  return isSeq(seq) ? seq : undefined;
}

function taskMaps(doc: Document): YAMLMap[] {
  return (taskSeq(doc)?.items ?? []).filter((i): i is YAMLMap => isMap(i));
}

const nameOf = (m: YAMLMap) => String(m.get("name") ?? "");

/** The string list at `key` of `m` (a lone string counts as a list of one). */
function listAt(m: YAMLMap, key: string): string[] {
  const v = m.get(key, true);
  if (isSeq(v)) return v.items.map((i) => String(isScalar(i) ? i.value : i));
  if (isScalar(v) && v.value !== null && v.value !== "") return [String(v.value)];
  return [];
}

/** Reads the text: its tasks, or its syntax errors. */
export function readModel(text: string): Model {
  const doc = parse(text);
  const syntax = doc.errors.map((e) => ({ message: e.message.split("\n")[0]!, line: e.linePos?.[0].line, column: e.linePos?.[0].col }));
  const tasks = taskMaps(doc).map((m) => ({
    name: nameOf(m),
    type: String(m.get("type") ?? ""),
    depends_on: listAt(m, "depends_on"),
    fields: (m.toJSON() ?? {}) as Record<string, unknown>,
  }));
  const { tasks: _, ...workflow } = (isMap(doc.contents) ? doc.contents.toJSON() : {}) as Record<string, unknown>;
  return { workflow, tasks, syntax };
}

/** A text the editor cannot change through the graph (its YAML does not parse). */
export class SyntaxError extends Error {}

/** Applies `change` to the text's Document and prints it back. */
function edit(text: string, change: (doc: Document) => void): string {
  const doc = parse(text);
  if (doc.errors.length) throw new SyntaxError("the YAML has syntax errors: fix them in the YAML tab first");
  change(doc);
  return doc.toString(PRINT);
}

function findTask(doc: Document, name: string): YAMLMap {
  const found = taskMaps(doc).find((m) => nameOf(m) === name);
  if (!found) throw new Error(`no task named ${name}`);
  return found;
}

/** A task name not yet taken: `base`, `base-2`, `base-3`, … */
export function freeName(tasks: { name: string }[], base: string): string {
  const taken = new Set(tasks.map((t) => t.name));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** Adds a task of `type` (with its type's starting fields) at the end; its name is free. */
export function addTask(text: string, type: string): { text: string; name: string } {
  let name = "";
  const out = edit(text, (doc) => {
    let seq = taskSeq(doc);
    if (!seq) {
      seq = doc.createNode([]) as YAMLSeq;
      doc.set("tasks", seq);
    }
    // A task list written in flow style (`tasks: []`) becomes a block list.
    seq.flow = false;
    name = freeName(taskMaps(doc).map((m) => ({ name: nameOf(m) })), type.replace(/_/g, "-"));
    seq.add(doc.createNode({ name, type, ...(TASK_FORMS[type]?.template ?? {}) }));
  });
  return { text: out, name };
}

/** The keys of a task that name other tasks: its dependencies and its branches. */
const REFERENCE_LISTS = ["depends_on", "success", "failure", "default"];

/** Calls `visit` on every scalar of the text's tasks that names a task (`depends_on`,
 * branches, switch cases' `then`), with the list holding it. */
function eachReference(doc: Document, visit: (holder: YAMLSeq | YAMLMap, key: number | string, name: string) => void) {
  const inList = (holder: YAMLMap, key: string) => {
    const v = holder.get(key, true);
    if (isSeq(v)) {
      for (let i = v.items.length - 1; i >= 0; i--) {
        const item = v.items[i];
        if (isScalar(item)) visit(v, i, String(item.value));
      }
    } else if (isScalar(v)) visit(holder, key, String(v.value));
  };
  for (const m of taskMaps(doc)) {
    for (const key of REFERENCE_LISTS) inList(m, key);
    const cases = m.get("cases", true);
    if (isSeq(cases)) for (const c of cases.items) if (isMap(c)) inList(c, "then");
  }
}

/** Removes a task, and its name from every other task's dependencies and branches. */
export function removeTask(text: string, name: string): string {
  return edit(text, (doc) => {
    const seq = taskSeq(doc)!;
    seq.items = seq.items.filter((i) => !(isMap(i) && nameOf(i) === name));
    eachReference(doc, (holder, key, ref) => {
      if (ref !== name) return;
      if (isSeq(holder)) holder.items.splice(key as number, 1);
      else holder.delete(key);
    });
    for (const m of taskMaps(doc)) dropEmpty(m, "depends_on");
  });
}

function dropEmpty(m: YAMLMap, key: string) {
  const v = m.get(key, true);
  if (isSeq(v) && v.items.length === 0) m.delete(key);
}

/** Makes `to` depend on `from` (an edge drawn from `from` to `to`); nothing when it already
 * does or when they are the same task. */
export function connect(text: string, from: string, to: string): string {
  if (from === to) return text;
  return edit(text, (doc) => {
    const target = findTask(doc, to);
    const now = listAt(target, "depends_on");
    if (now.includes(from)) return;
    const v = target.get("depends_on", true);
    if (isSeq(v)) v.add(doc.createNode(from));
    else {
      const seq = doc.createNode([...now, from]) as YAMLSeq;
      seq.flow = true;
      target.set("depends_on", seq);
    }
  });
}

/** Takes `from` out of `to`'s `depends_on` (the key goes when it is left empty). */
export function disconnect(text: string, from: string, to: string): string {
  return edit(text, (doc) => {
    // The task may be gone already (an edge removed with its task).
    const target = taskMaps(doc).find((m) => nameOf(m) === to);
    if (!target) return;
    const v = target.get("depends_on", true);
    if (isSeq(v)) {
      v.items = v.items.filter((i) => !(isScalar(i) && String(i.value) === from));
      dropEmpty(target, "depends_on");
    } else if (isScalar(v) && String(v.value) === from) target.delete("depends_on");
  });
}

/** Renames a task, and every reference to it in the other tasks. */
export function renameTask(text: string, from: string, to: string): string {
  if (from === to) return text;
  return edit(text, (doc) => {
    setScalar(doc, findTask(doc, from), "name", to);
    eachReference(doc, (holder, key, ref) => {
      if (ref !== from) return;
      const node = holder.get(key as never, true) as unknown;
      if (isScalar(node)) node.value = to;
    });
  });
}

function setScalar(doc: Document, m: YAMLMap, key: string, value: unknown) {
  const node = m.get(key, true);
  if (isScalar(node) && (typeof value === "string" || typeof value === "number" || typeof value === "boolean")) {
    // Keeps the node (its comment, its quotes) and only changes the value; a block scalar
    // for a value of one line would be odd, and a plain one for several lines impossible.
    const multiline = typeof value === "string" && value.includes("\n");
    if (!multiline && (node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED")) node.type = undefined;
    if (multiline && node.type !== "BLOCK_FOLDED") node.type = "BLOCK_LITERAL";
    node.value = value;
    return;
  }
  m.set(key, doc.createNode(value));
}

/** Sets a field of a task; `undefined` (or an empty string, list or map) removes it. A
 * dotted key (`map.over`) is a field of the mapping at its first part, made (in block style)
 * by the first field set in it and removed with the last one taken out of it. */
export function setField(text: string, task: string, key: string, value: unknown): string {
  return edit(text, (doc) => {
    const m = findTask(doc, task);
    const empty =
      value === undefined ||
      value === "" ||
      (Array.isArray(value) && value.length === 0 && key !== "success" && key !== "failure") ||
      (typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 0);
    const [outer, inner] = splitKey(key);
    if (inner === undefined) {
      if (empty) m.delete(key);
      else setScalar(doc, m, key, value);
      return;
    }
    const found: unknown = m.get(outer, true);
    let nested: YAMLMap;
    if (isMap(found)) nested = found;
    else {
      if (empty) return;
      nested = doc.createNode({}) as YAMLMap;
      nested.flow = false;
      m.set(outer, nested);
    }
    if (empty) nested.delete(inner);
    else setScalar(doc, nested, inner, value);
    if (nested.items.length === 0) m.delete(outer);
  });
}

/** `map.over` → [`map`, `over`]; a key without a dot → [key, undefined]. */
function splitKey(key: string): [string, string | undefined] {
  const dot = key.indexOf(".");
  return dot < 0 ? [key, undefined] : [key.slice(0, dot), key.slice(dot + 1)];
}

/** Sets a field of the workflow itself (`name`, `description`, …); `undefined` or an empty
 * string removes it. */
export function setWorkflowField(text: string, key: string, value: string | undefined): string {
  return edit(text, (doc) => {
    if (!isMap(doc.contents)) throw new Error("the file is not a mapping of fields");
    if (value === undefined || value === "") doc.contents.delete(key);
    else setScalar(doc, doc.contents, key, value);
  });
}

/** Changes a task's type: the old type's own fields go, the new type's starting ones come,
 * and its `map:` (its `broadcast:`) goes when the new type cannot be mapped (broadcast). */
export function setType(text: string, task: string, type: string): string {
  return edit(text, (doc) => {
    const m = findTask(doc, task);
    const old = String(m.get("type") ?? "");
    for (const f of TASK_FORMS[old]?.fields ?? []) m.delete(f.key);
    if (!MAPPABLE.has(type)) m.delete("map");
    if (!BROADCASTABLE.has(type)) m.delete("broadcast");
    setScalar(doc, m, "type", type);
    for (const [k, v] of Object.entries(TASK_FORMS[type]?.template ?? {})) if (!m.has(k)) m.set(k, doc.createNode(v));
  });
}

const within = (line: number, from: number, to: number) => line >= from && line <= to;

/** The task, and the field of it, that a line (1-based; a column narrows a one-line task)
 * of the text falls in; a problem naming its task but no line is that task's. */
export function problemTarget(text: string, p: Problem): Target {
  if (!p.line) return p.task ? { task: p.task } : {};
  const lines = new LineCounter();
  const doc = parse(text, lines);
  const lineOf = (offset: number) => lines.linePos(offset).line;
  const offset = (lines.lineStarts[p.line - 1] ?? 0) + Math.max(0, (p.column ?? 1) - 1);
  for (const m of taskMaps(doc)) {
    const [start, end] = m.range ?? [0, 0];
    if (!within(p.line, lineOf(start), lineOf(Math.max(start, end - 1)))) continue;
    return { task: nameOf(m), field: fieldAt(m, p.line, offset, lineOf) };
  }
  return p.task ? { task: p.task } : {};
}

/** The mappings of a task whose fields the form shows one by one (`map.over`, …). */
const NESTED_FORMS = new Set(["map"]);

function fieldAt(m: YAMLMap, line: number, offset: number, lineOf: (o: number) => number): string | undefined {
  const spans = (m.items as Pair<Node, Node | null>[]).map((pair) => {
    const start = pair.key?.range?.[0] ?? 0;
    const end = pair.value?.range?.[1] ?? pair.key?.range?.[1] ?? start;
    return { key: String(isScalar(pair.key) ? pair.key.value : ""), start, end, value: pair.value };
  });
  const onLine = spans.filter((s) => within(line, lineOf(s.start), lineOf(Math.max(s.start, s.end - 1))));
  // Several fields on the line (a flow map): the one the column falls in, else the first.
  const hit = onLine.length <= 1 ? onLine[0] : (onLine.find((s) => offset >= s.start && offset <= s.end) ?? onLine[0]);
  if (hit && NESTED_FORMS.has(hit.key) && isMap(hit.value)) {
    // A problem at one of its fields is that field's (`map.over`); at the key, the mapping's.
    const inner = fieldAt(hit.value, line, offset, lineOf);
    if (inner && offset >= (hit.value.range?.[0] ?? Infinity)) return `${hit.key}.${inner}`;
  }
  return hit?.key;
}

/** A problem with the field of its task it is in. */
export type PlacedProblem = Problem & { field?: string };

/** Each problem with its field, grouped by task (the problems of no task under ""). */
export function problemsByTask(text: string, problems: Problem[]): Map<string, PlacedProblem[]> {
  const out = new Map<string, PlacedProblem[]>();
  for (const p of problems) {
    const t = problemTarget(text, p);
    const key = t.task ?? "";
    out.set(key, [...(out.get(key) ?? []), { ...p, task: key || null, field: t.field }]);
  }
  return out;
}

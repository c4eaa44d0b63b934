import { describe, expect, it } from "vitest";
import {
  addTask,
  connect,
  disconnect,
  problemTarget,
  readModel,
  removeTask,
  renameTask,
  setField,
  setType,
  setWorkflowField,
  SyntaxError,
} from "./workflowDoc";
import { BROADCASTABLE, BROADCAST_FIELD, COMMON_FIELDS, MAP_FIELDS, MAPPABLE, PALETTE, TASK_FORMS, fieldId, fieldsOf, shown, valueAt, written } from "./taskForms";
import { TASK_TYPES } from "./states";

const FILE = `# The nightly load.
project: demo
name: etl # named after the team
tasks:
  # First get the data.
  - name: extract
    type: shell
    command: echo extract
  - name: load
    type: shell
    command: echo load # keep this
    depends_on: [extract]
  - {name: report, type: noop, depends_on: [load, extract]}
`;

const names = (text: string) => readModel(text).tasks.map((t) => t.name);
const deps = (text: string, task: string) => readModel(text).tasks.find((t) => t.name === task)?.depends_on;

describe("the YAML ⇄ graph model", () => {
  it("reads the tasks with their types and dependencies", () => {
    const m = readModel(FILE);
    expect(m.syntax).toEqual([]);
    expect(m.tasks.map((t) => [t.name, t.type, t.depends_on])).toEqual([
      ["extract", "shell", []],
      ["load", "shell", ["extract"]],
      ["report", "noop", ["load", "extract"]],
    ]);
    expect(m.tasks[0]!.fields.command).toBe("echo extract");
  });

  it("adds a task of a type with its starting fields and a free name, keeping the comments", () => {
    const { text, name } = addTask(FILE, "shell");
    expect(name).toBe("shell");
    expect(names(text)).toEqual(["extract", "load", "report", "shell"]);
    expect(readModel(text).tasks[3]!.fields).toEqual({ name: "shell", type: "shell", command: "echo hello" });
    for (const c of ["# The nightly load.", "# named after the team", "# First get the data.", "# keep this"]) {
      expect(text).toContain(c);
    }
    // The untouched part is as it was, byte for byte.
    expect(text.startsWith(FILE)).toBe(true);
    expect(addTask(text, "shell").name).toBe("shell-2");
    expect(addTask(text, "sub_workflow").name).toBe("sub-workflow");
  });

  it("turns an empty flow list of tasks into a block list", () => {
    const { text } = addTask("project: p\nname: w\ntasks: []\n", "noop");
    expect(text).toBe("project: p\nname: w\ntasks:\n  - name: noop\n    type: noop\n");
  });

  it("removes a task and its name from the others' depends_on", () => {
    const text = removeTask(FILE, "extract");
    expect(names(text)).toEqual(["load", "report"]);
    expect(deps(text, "load")).toEqual([]);
    expect(deps(text, "report")).toEqual(["load"]);
    expect(text).not.toContain("depends_on: []");
    expect(text).toContain("# The nightly load.");
  });

  it("connects and disconnects an edge as a depends_on entry", () => {
    let text = connect(FILE, "extract", "report");
    expect(text).toBe(FILE);
    text = connect(FILE, "load", "extract");
    expect(deps(text, "extract")).toEqual(["load"]);
    expect(text).toContain("depends_on: [load]");
    expect(connect(text, "extract", "extract")).toBe(text);
    text = disconnect(text, "load", "extract");
    expect(deps(text, "extract")).toEqual([]);
    expect(text).toBe(FILE);
    text = disconnect(FILE, "extract", "report");
    expect(deps(text, "report")).toEqual(["load"]);
  });

  it("renames a task and every reference to it, branches included", () => {
    const text = renameTask(FILE, "extract", "fetch");
    expect(names(text)).toEqual(["fetch", "load", "report"]);
    expect(deps(text, "load")).toEqual(["fetch"]);
    expect(deps(text, "report")).toEqual(["load", "fetch"]);
    expect(text).toContain("# keep this");
    const branching = `name: w\ntasks:\n  - {name: a, type: shell, command: x}\n  - name: c\n    type: conditions\n    depends_on: [a]\n    success: [a]\n  - name: s\n    type: switch\n    cases:\n      - {when: "1", then: [a]}\n    default: a\n`;
    const renamed = renameTask(branching, "a", "b");
    const [, c, s] = readModel(renamed).tasks;
    expect(c!.fields.success).toEqual(["b"]);
    expect(c!.depends_on).toEqual(["b"]);
    expect(s!.fields.cases).toEqual([{ when: "1", then: ["b"] }]);
    expect(s!.fields.default).toBe("b");
  });

  it("sets and removes a field, a multi-line value as a block scalar, keeping the node's comment", () => {
    let text = setField(FILE, "load", "command", "echo one\necho two");
    expect(text).toMatch(/ {4}command: \|-.*\n {6}echo one\n {6}echo two\n/);
    expect(readModel(text).tasks[1]!.fields.command).toBe("echo one\necho two");
    text = setField(FILE, "load", "command", "echo LOAD");
    expect(text).toContain("command: echo LOAD # keep this");
    text = setField(text, "load", "retries", 3);
    expect(readModel(text).tasks[1]!.fields.retries).toBe(3);
    text = setField(text, "load", "retries", undefined);
    expect(readModel(text).tasks[1]!.fields.retries).toBeUndefined();
  });

  it("sets the workflow's own fields, keeping its comments", () => {
    let text = setWorkflowField(FILE, "name", "nightly");
    expect(readModel(text).workflow.name).toBe("nightly");
    expect(text).toContain("name: nightly # named after the team");
    text = setWorkflowField(text, "description", "Loads the day");
    expect(readModel(text).workflow).toEqual({ project: "demo", name: "nightly", description: "Loads the day" });
    expect(readModel(setWorkflowField(text, "description", "")).workflow.description).toBeUndefined();
  });

  it("changes a type: the old type's own fields go, the new type's starting ones come", () => {
    const text = setType(FILE, "extract", "http");
    expect(readModel(text).tasks[0]!.fields).toEqual({ name: "extract", type: "http", method: "GET", url: "https://example.com/" });
  });

  it("refuses a graph edit of a text whose YAML does not parse, and reports where", () => {
    const broken = "name: w\ntasks:\n  - {name: a\n";
    expect(readModel(broken).syntax[0]!.line).toBeGreaterThan(0);
    expect(() => addTask(broken, "noop")).toThrow(SyntaxError);
  });

  it("maps a problem's line to its task and field", () => {
    expect(problemTarget(FILE, { message: "x", line: 8, column: 14 })).toEqual({ task: "extract", field: "command" });
    expect(problemTarget(FILE, { message: "x", line: 6, column: 5 })).toEqual({ task: "extract", field: "name" });
    expect(problemTarget(FILE, { message: "x", line: 12, column: 17 })).toEqual({ task: "load", field: "depends_on" });
    // One line, several fields: the column tells which.
    expect(problemTarget(FILE, { message: "x", line: 13, column: 40 })).toEqual({ task: "report", field: "depends_on" });
    expect(problemTarget(FILE, { message: "x", line: 13, column: 22 })).toEqual({ task: "report", field: "type" });
    expect(problemTarget(FILE, { message: "x", line: 2, column: 1 })).toEqual({});
    expect(problemTarget(FILE, { message: "cycle", task: "load" })).toEqual({ task: "load" });
  });
});

describe("the palette", () => {
  it("offers every task type the UI draws (and only those), each with a label", () => {
    expect([...PALETTE].sort()).toEqual(Object.keys(TASK_TYPES).sort());
    for (const type of PALETTE) expect(TASK_FORMS[type]!.label).not.toBe("");
  });

  it("starts a task of each type with its template and a name from its type", () => {
    for (const type of PALETTE) {
      const { text, name } = addTask("name: w\ntasks: []\n", type);
      expect(name).toBe(type.replace(/_/g, "-"));
      expect(readModel(text).tasks[0]!.fields).toEqual({ name, type, ...TASK_FORMS[type]!.template });
    }
  });
});

describe("a form field's text", () => {
  const field = (key: string) => COMMON_FIELDS.concat(...Object.values(TASK_FORMS).map((f) => f.fields)).find((f) => f.key === key)!;
  it("shows and writes lists, maps, numbers and YAML values", () => {
    expect(shown(field("success"), ["a", "b"])).toBe("a\nb");
    expect(written(field("expect_status"), "200\n\n 201 ")).toEqual({ value: [200, 201] });
    expect(written(field("success"), "a\nb\n")).toEqual({ value: ["a", "b"] });
    expect(shown(field("headers"), { Accept: "text/plain" })).toBe("Accept: text/plain");
    expect(written(field("headers"), "Accept: text/plain\nX-Token: a:b\nbroken")).toEqual({ value: { Accept: "text/plain", "X-Token": "a:b" } });
    expect(written(field("retries"), "3")).toEqual({ value: 3 });
    expect(written(field("retries"), "")).toEqual({ value: undefined });
    expect(written(field("retries"), "three")).toEqual({ value: "three" });
    expect(shown(field("body"), { a: [1, 2] })).toBe("a:\n  - 1\n  - 2");
    expect(written(field("body"), "{a: [1, 2]}")).toEqual({ value: { a: [1, 2] } });
    expect("error" in written(field("body"), "{a: [1, 2")).toBe(true);
    expect(written(field("url"), "")).toEqual({ value: undefined });
  });
});

describe("a task's map: in the form", () => {
  const ONE = "name: w\nparams: {parts: '[1, 2]'}\ntasks:\n  - name: m\n    type: shell # each part\n    command: echo ${part}\n";
  const mapOf = (text: string) => readModel(text).tasks[0]!.fields.map;

  it("is offered for the types that may be mapped, and only those", () => {
    const has = (type: string) => fieldsOf(type).some((f) => f.key === "map.over");
    expect(PALETTE.filter(has).sort()).toEqual([...MAPPABLE].sort());
    expect(has("http")).toBe(false);
    expect(MAP_FIELDS.map((f) => f.key)).toEqual(["map.over", "map.as", "map.parallel", "map.max_items", "map.failure"]);
    expect(fieldId("map.max_items")).toBe("field-map-max_items");
  });

  it("makes the map: block with its first field, sets the others in it, and removes it with its last", () => {
    let text = setField(ONE, "m", "map.over", "${parts}");
    expect(text).toContain("    map:\n      over: ${parts}\n");
    expect(text).toContain("type: shell # each part");
    text = setField(text, "m", "map.as", "part");
    text = setField(text, "m", "map.parallel", 4);
    text = setField(text, "m", "map.failure", "continue");
    expect(mapOf(text)).toEqual({ over: "${parts}", as: "part", parallel: 4, failure: "continue" });
    expect(valueAt(readModel(text).tasks[0]!.fields, "map.parallel")).toBe(4);
    text = setField(text, "m", "map.parallel", 8);
    expect(mapOf(text)).toMatchObject({ parallel: 8 });
    for (const key of ["map.over", "map.as", "map.parallel"]) text = setField(text, "m", key, undefined);
    expect(mapOf(text)).toEqual({ failure: "continue" });
    text = setField(text, "m", "map.failure", "");
    expect(mapOf(text)).toBeUndefined();
    expect(text).toBe(ONE);
    // Clearing a field of a map that is not there changes nothing.
    expect(setField(ONE, "m", "map.as", undefined)).toBe(ONE);
  });

  it("edits a map written in flow style in place", () => {
    const flow = ONE + "    map: {over: '${parts}', as: part}\n";
    const text = setField(flow, "m", "map.max_items", 50);
    expect(mapOf(text)).toEqual({ over: "${parts}", as: "part", max_items: 50 });
    expect(text).toContain("map: {over: '${parts}', as: part, max_items: 50}");
  });

  it("goes when the task becomes a type that cannot be mapped", () => {
    const mapped = setField(ONE, "m", "map.over", "${parts}");
    expect(mapOf(setType(mapped, "m", "python"))).toEqual({ over: "${parts}" });
    expect(mapOf(setType(mapped, "m", "http"))).toBeUndefined();
  });

  it("puts the server's problem at the map's field it is in", () => {
    const text = ONE + "    map:\n      over: parts\n      as: part\n";
    // map.over: `parts` is not a reference (the line of `over`).
    expect(problemTarget(text, { message: "x", line: 8, column: 7 })).toEqual({ task: "m", field: "map.over" });
    expect(problemTarget(text, { message: "x", line: 9, column: 11 })).toEqual({ task: "m", field: "map.as" });
    // At the `map` key itself (`map` needs `as`): the map's.
    expect(problemTarget(text, { message: "x", line: 7, column: 5 })).toEqual({ task: "m", field: "map" });
    const flow = ONE + "    map: {over: parts, as: part}\n";
    expect(problemTarget(flow, { message: "x", line: 7, column: 16 })).toEqual({ task: "m", field: "map.over" });
    expect(problemTarget(flow, { message: "x", line: 7, column: 27 })).toEqual({ task: "m", field: "map.as" });
  });

  it("shows and writes its numbers and choices", () => {
    const f = (key: string) => MAP_FIELDS.find((x) => x.key === key)!;
    expect(written(f("map.parallel"), "8")).toEqual({ value: 8 });
    expect(written(f("map.parallel"), "")).toEqual({ value: undefined });
    expect(shown(f("map.failure"), "continue")).toBe("continue");
  });
});

describe("a task's broadcast: in the form", () => {
  const ONE = "name: w\ntasks:\n  - name: clear\n    type: shell\n    command: rm -rf /tmp/cache\n";

  it("is offered for shell and python only, as a flag written true or not at all", () => {
    const has = (type: string) => fieldsOf(type).some((f) => f.key === "broadcast");
    expect(PALETTE.filter(has).sort()).toEqual([...BROADCASTABLE].sort());
    expect(written(BROADCAST_FIELD, "true")).toEqual({ value: true });
    expect(written(BROADCAST_FIELD, "")).toEqual({ value: undefined });
    expect(shown(BROADCAST_FIELD, true)).toBe("true");
    expect(shown(BROADCAST_FIELD, undefined)).toBe("");
  });

  it("is set as a YAML boolean and goes when the type cannot broadcast", () => {
    let text = setField(ONE, "clear", "broadcast", true);
    expect(text).toContain("    broadcast: true\n");
    expect(readModel(text).tasks[0]!.fields.broadcast).toBe(true);
    text = setType(text, "clear", "python");
    expect(text).toContain("broadcast: true");
    text = setType(text, "clear", "noop");
    expect(text).not.toContain("broadcast");
  });
});

// The DAG of a workflow definition: its tasks as nodes, its dependencies (and the branches
// of switch and conditions tasks) as edges, laid out top to bottom by dagre.
import dagre from "@dagrejs/dagre";

/** A task of a definition, as the API gives it (the fields of the workflow file). */
export interface TaskDef {
  name: string;
  type: string;
  depends_on?: string[];
  cases?: { when: string; then: string[] | string }[];
  default?: string[];
  success?: string[];
  failure?: string[];
  [field: string]: unknown;
}

/** An edge: `from` runs before `to`; a branch edge is taken only on its condition. */
export interface DagEdge {
  id: string;
  from: string;
  to: string;
  kind: "depends" | "branch" | "success" | "failure";
  label?: string;
}

/** A placed node: its top-left corner. */
export interface PlacedNode {
  id: string;
  task: TaskDef;
  x: number;
  y: number;
}

/** Node size used for the layout (the CSS of `.dag-node` matches it). */
export const NODE_WIDTH = 180;
export const NODE_HEIGHT = 44;

const list = (v: string[] | string | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** The edges of a definition; edges to tasks it does not have are left out. */
export function dagEdges(tasks: TaskDef[]): DagEdge[] {
  const names = new Set(tasks.map((t) => t.name));
  const edges: DagEdge[] = [];
  const seen = new Set<string>();
  const add = (from: string, to: string, kind: DagEdge["kind"], label?: string) => {
    const id = `${from}->${to}`;
    if (!names.has(from) || !names.has(to) || seen.has(id)) return;
    seen.add(id);
    edges.push({ id, from, to, kind, label });
  };
  for (const t of tasks) {
    for (const d of t.depends_on ?? []) add(d, t.name, "depends");
    for (const c of t.cases ?? []) for (const to of list(c.then)) add(t.name, to, "branch", c.when);
    for (const to of list(t.default)) add(t.name, to, "branch", "default");
    for (const to of list(t.success)) add(t.name, to, "success", "success");
    for (const to of list(t.failure)) add(t.name, to, "failure", "failure");
  }
  return edges;
}

/** Places the tasks top to bottom, each rank a row, with dagre. */
export function layoutDag(tasks: TaskDef[]): { nodes: PlacedNode[]; edges: DagEdge[] } {
  const edges = dagEdges(tasks);
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 50, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const t of tasks) g.setNode(t.name, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const e of edges) g.setEdge(e.from, e.to);
  dagre.layout(g);
  const nodes = tasks.map((task) => {
    const n = g.node(task.name);
    return { id: task.name, task, x: n.x - NODE_WIDTH / 2, y: n.y - NODE_HEIGHT / 2 };
  });
  return { nodes, edges };
}

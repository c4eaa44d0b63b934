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

/** From this many tasks on, the layout is [`layeredLayout`] (milliseconds for 1,000 tasks)
 * rather than dagre's (compact, but it took seconds for 1,000 tasks). */
export const BIG_DAG = 150;

const GAP_X = 30;
const GAP_Y = 50;

/**
 * A fast layered layout: each task's row is its longest path from a task with no upstream
 * (the tasks of a cycle, which the server refuses anyway, go to row 0), each row ordered by
 * a few sweeps of the mean position of its neighbours in the row before (going down) and
 * after (going up), to cut crossings; the rows centred on one axis.
 */
export function layeredLayout(tasks: TaskDef[], edges: DagEdge[], sweeps = 4): PlacedNode[] {
  const index = new Map(tasks.map((t, i) => [t.name, i]));
  const ups: number[][] = tasks.map(() => []);
  const downs: number[][] = tasks.map(() => []);
  for (const e of edges) {
    const a = index.get(e.from)!;
    const b = index.get(e.to)!;
    ups[b]!.push(a);
    downs[a]!.push(b);
  }
  // Rows by longest path, in topological order (Kahn).
  const rank = new Array<number>(tasks.length).fill(0);
  const waiting = ups.map((u) => u.length);
  const queue: number[] = [];
  waiting.forEach((w, i) => w === 0 && queue.push(i));
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q]!;
    for (const d of downs[v]!) {
      rank[d] = Math.max(rank[d]!, rank[v]! + 1);
      if (--waiting[d]! === 0) queue.push(d);
    }
  }
  const rows: number[][] = [];
  tasks.forEach((_, i) => (rows[rank[i]!] ??= []).push(i));
  for (let r = 0; r < rows.length; r++) rows[r] ??= [];
  const pos = new Array<number>(tasks.length).fill(0);
  const place = (row: number[]) => row.forEach((v, i) => (pos[v] = i));
  rows.forEach(place);
  const order = (row: number[], by: number[][]) => {
    const key = new Map(row.map((v) => {
      const n = by[v]!;
      return [v, n.length ? n.reduce((s, u) => s + pos[u]!, 0) / n.length : pos[v]!];
    }));
    row.sort((a, b) => key.get(a)! - key.get(b)! || pos[a]! - pos[b]!);
    place(row);
  };
  for (let s = 0; s < sweeps; s++) {
    for (let r = 1; r < rows.length; r++) order(rows[r]!, ups);
    for (let r = rows.length - 2; r >= 0; r--) order(rows[r]!, downs);
  }
  const widest = Math.max(...rows.map((r) => r.length));
  const nodes = new Array<PlacedNode>(tasks.length);
  rows.forEach((row, r) =>
    row.forEach((v, i) => {
      const x = (i + (widest - row.length) / 2) * (NODE_WIDTH + GAP_X) + 10;
      nodes[v] = { id: tasks[v]!.name, task: tasks[v]!, x, y: r * (NODE_HEIGHT + GAP_Y) + 10 };
    }),
  );
  return nodes;
}

/** Places the tasks top to bottom, each rank a row: with dagre, or for a big DAG with
 * [`layeredLayout`]. */
export function layoutDag(tasks: TaskDef[]): { nodes: PlacedNode[]; edges: DagEdge[] } {
  const edges = dagEdges(tasks);
  if (tasks.length >= BIG_DAG) return { nodes: layeredLayout(tasks, edges), edges };
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "TB", nodesep: GAP_X, ranksep: GAP_Y, marginx: 10, marginy: 10 });
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

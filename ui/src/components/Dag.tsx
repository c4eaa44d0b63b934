// The DAG view: @xyflow/react over the dagre layout (zoom, pan, fit, minimap); each node
// coloured by its task type, or, with `states`, by its task's state.
import { useEffect, useMemo } from "react";
import {
  Background,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  type Edge,
  type Node,
  type NodeProps,
  useNodesState,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { BIG_DAG, NODE_HEIGHT, NODE_WIDTH, layoutDag, type PlacedNode, type TaskDef } from "../lib/dag";

const minX = (nodes: PlacedNode[]) => nodes.reduce((m, n) => Math.min(m, n.x), Infinity);
import { TASK_TYPES, stateColor, stateTone, typeColor } from "../lib/states";
import type { Schemas } from "../api/client";
import { ItemCounts } from "./Items";

type TaskNodeData = { task: TaskDef; state?: string; selected: boolean; live: boolean; counts?: Schemas["ItemCounts"] };

function TaskNode({ data }: NodeProps<Node<TaskNodeData>>) {
  const { task, state, selected, live, counts } = data;
  const colour = live ? stateColor(state) : typeColor(task.type);
  return (
    <div
      className={`dag-node${selected ? " selected" : ""}${counts ? " mapped" : ""}`}
      style={{ borderLeftColor: colour }}
      data-testid={`node-${task.name}`}
      data-state={live ? (state ?? "not_started") : undefined}
      title={`${task.name} (${task.type})${live ? `: ${state ?? "not started"}` : ""}`}
    >
      <Handle type="target" position={Position.Top} />
      <span className="dag-mark" style={{ background: typeColor(task.type) }}>
        {TASK_TYPES[task.type]?.mark ?? "•"}
      </span>
      <span className="dag-name">{task.name}</span>
      {live && (
        <span className="dag-state" style={{ color: colour }}>
          {state ?? "—"}
        </span>
      )}
      {counts && <ItemCounts counts={counts} testId={`node-counts-${task.name}`} />}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}

const nodeTypes = { task: TaskNode };

/** The DAG of `tasks`; `states` (task name → state) colours it by state; `counts` (mapped
 * task name → its items counted) shows a mapped task's items under its node. */
export function Dag({
  tasks,
  states,
  counts,
  selected,
  onSelect,
}: {
  tasks: TaskDef[];
  states?: Record<string, string>;
  counts?: Record<string, Schemas["ItemCounts"]>;
  selected?: string | null;
  onSelect?: (task: string | null) => void;
}) {
  // Timed (a `baton:dag-layout` measure), so that the browser tests can print it.
  const layout = useMemo(() => {
    const start = performance.now();
    const placed = layoutDag(tasks);
    performance.measure("baton:dag-layout", { start, end: performance.now() });
    return placed;
  }, [tasks]);
  // The nodes are xyflow's state (it records their measured sizes in them): a new layout
  // places them anew; a state or a selection only changes their data, so that they keep
  // their measurements (and their edges their handles).
  const [nodes, setNodes, onNodesChange] = useNodesState<Node<TaskNodeData>>([]);
  const live = states !== undefined;
  useEffect(() => {
    setNodes(
      layout.nodes.map((n) => ({
        id: n.id,
        type: "task",
        position: { x: n.x, y: n.y },
        data: { task: n.task, selected: false, live },
        draggable: false,
        connectable: false,
      })),
    );
  }, [layout, live, setNodes]);
  useEffect(() => {
    setNodes((ns) => {
      let changed = false;
      const next = ns.map((n) => {
        const state = states?.[n.id];
        const isSelected = n.id === selected;
        const c = counts?.[n.id];
        if (n.data.state === state && n.data.selected === isSelected && n.data.counts === c) return n;
        changed = true;
        return { ...n, data: { ...n.data, state, selected: isSelected, counts: c } };
      });
      // Nothing changed (a re-read that said what the events already had): the same array,
      // so that xyflow does nothing.
      return changed ? next : ns;
    });
  }, [states, counts, selected, nodes.length, setNodes]);
  // A big DAG opens on the start of its first rows (fit to the whole, its nodes would be unreadable, and
  // every one of them in the page): only the nodes in view are rendered; the minimap and
  // the fit button show the whole.
  const big = tasks.length >= BIG_DAG;
  const fit = useMemo(
    () => ({ maxZoom: 1, nodes: big ? layout.nodes.filter((n) => n.y < 3 * (NODE_HEIGHT + 50) && n.x < minX(layout.nodes) + 5 * (NODE_WIDTH + 30)).map((n) => ({ id: n.id })) : undefined }),
    [big, layout],
  );
  // An edge is animated while its upstream task runs: the edges change only when which
  // tasks run does, not on every new state of the page.
  const running = layout.edges
    .filter((e) => states?.[e.from] === "running")
    .map((e) => e.id)
    .join(" ");
  const edges: Edge[] = useMemo(() => {
    const animated = new Set(running.split(" "));
    return layout.edges.map((e) => ({
      id: e.id,
      source: e.from,
      target: e.to,
      label: e.kind === "depends" ? undefined : e.label,
      animated: animated.has(e.id),
      className: `edge-${e.kind}`,
    }));
  }, [layout, running]);
  return (
    <div className="dag" data-testid="dag">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        onNodesChange={onNodesChange}
        nodeTypes={nodeTypes}
        fitView
        fitViewOptions={fit}
        onlyRenderVisibleElements={big}
        minZoom={0.1}
        nodesConnectable={false}
        onNodeClick={(_, n) => onSelect?.(n.id)}
        onPaneClick={() => onSelect?.(null)}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={16} />
        <Controls showInteractive={false} />
        <MiniMap
          pannable
          zoomable
          nodeClassName={(n) => {
            const d = n.data as TaskNodeData;
            return d.live ? `mini-tone-${stateTone(d.state)}` : `mini-type-${d.task.type}`;
          }}
        />
      </ReactFlow>
    </div>
  );
}

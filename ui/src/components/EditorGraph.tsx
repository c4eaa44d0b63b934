// The workflow editor's graph: the tasks of the text as nodes (moved by dragging), their
// dependencies as edges; an edge drawn from a task's bottom handle to another's top makes a
// `depends_on`, and the Delete key removes the selected task or dependency. New tasks are
// placed by the DAG layout; "Auto layout" places them all again.
import { useCallback, useEffect, useMemo, useState } from "react";
import {
  Background,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  type Connection,
  type Edge,
  type Node,
  type NodeProps,
  type ReactFlowInstance,
  useEdgesState,
  useNodesState,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { layoutDag, type TaskDef } from "../lib/dag";
import { TASK_TYPES, typeColor } from "../lib/states";
import type { EditorTask, Problem } from "../lib/workflowDoc";

type EditNodeData = { task: EditorTask; problems: Problem[] };

function EditNode({ data, selected }: NodeProps<Node<EditNodeData>>) {
  const { task, problems } = data;
  const bad = problems.length > 0;
  return (
    <div
      className={`dag-node${selected ? " selected" : ""}${bad ? " invalid" : ""}`}
      style={{ borderLeftColor: typeColor(task.type) }}
      data-testid={`node-${task.name}`}
      data-invalid={bad ? "true" : undefined}
      title={bad ? problems.map((p) => p.message).join("\n") : `${task.name} (${task.type})`}
    >
      <Handle type="target" position={Position.Top} />
      <span className="dag-mark" style={{ background: typeColor(task.type) }}>
        {TASK_TYPES[task.type]?.mark ?? "•"}
      </span>
      <span className="dag-name">{task.name}</span>
      {bad && (
        <span className="dag-problems" aria-label={`${problems.length} problems`}>
          ⚠ {problems.length}
        </span>
      )}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}

const nodeTypes = { task: EditNode };

const asDef = (t: EditorTask): TaskDef => ({ ...t.fields, name: t.name, type: t.type, depends_on: t.depends_on });

/** The editable graph of `tasks`. `layoutKey` changing (the "Auto layout" button) places
 * every node again. */
export function EditorGraph({
  tasks,
  problems,
  selected,
  readOnly,
  layoutKey,
  onSelect,
  onConnect,
  onDisconnect,
  onRemove,
}: {
  tasks: EditorTask[];
  problems: Map<string, Problem[]>;
  selected: string | null;
  readOnly: boolean;
  layoutKey: number;
  onSelect: (task: string | null) => void;
  onConnect: (from: string, to: string) => void;
  onDisconnect: (from: string, to: string) => void;
  onRemove: (task: string) => void;
}) {
  // A name given twice (or none) is the server's to report; the graph shows the first.
  const unique = useMemo(() => {
    const seen = new Set<string>();
    return tasks.filter((t) => t.name !== "" && !seen.has(t.name) && seen.add(t.name));
  }, [tasks]);
  const layout = useMemo(() => layoutDag(unique.map(asDef)), [unique]);
  const [nodes, setNodes, onNodesChange] = useNodesState<Node<EditNodeData>>([]);

  // A node keeps where it was put; a new one goes where the layout puts it (a renamed one,
  // found at the same place in the list, keeps its place).
  useEffect(() => {
    setNodes((prev) => {
      const byId = new Map(prev.map((n) => [n.id, n]));
      const names = new Set(unique.map((t) => t.name));
      return unique.map((task, i) => {
        const laid = layout.nodes[i]!;
        const old = byId.get(task.name) ?? (prev[i] && !names.has(prev[i]!.id) ? prev[i] : undefined);
        return {
          id: task.name,
          type: "task",
          position: old?.position ?? { x: laid.x, y: laid.y },
          data: { task, problems: problems.get(task.name) ?? [] },
          selected: task.name === selected,
          measured: old?.measured,
          draggable: true,
          connectable: !readOnly,
          deletable: !readOnly,
        };
      });
    });
  }, [unique, layout, problems, selected, readOnly, setNodes]);

  // A task added or removed, or every task placed again: the view fits them all.
  const [flow, setFlow] = useState<ReactFlowInstance<Node<EditNodeData>> | null>(null);
  useEffect(() => {
    const frame = requestAnimationFrame(() => void flow?.fitView({ maxZoom: 1 }));
    return () => cancelAnimationFrame(frame);
  }, [flow, unique.length, layoutKey]);

  useEffect(() => {
    if (layoutKey === 0) return;
    setNodes((prev) =>
      prev.map((n) => {
        const laid = layout.nodes.find((l) => l.id === n.id);
        return laid ? { ...n, position: { x: laid.x, y: laid.y } } : n;
      }),
    );
    // Only the button places every node again.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [layoutKey]);

  // The edges are xyflow's state too, so that one can be selected (and then deleted).
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>([]);
  const laidEdges: Edge[] = useMemo(
    () =>
      layout.edges.map((e) => ({
        id: e.id,
        source: e.from,
        target: e.to,
        label: e.kind === "depends" ? undefined : e.label,
        className: `edge-${e.kind}`,
        // Only a dependency is an edge of the graph's own; a branch is a field of its task.
        deletable: !readOnly && e.kind === "depends",
      })),
    [layout, readOnly],
  );
  useEffect(() => {
    setEdges((prev) => {
      const chosen = new Set(prev.filter((e) => e.selected).map((e) => e.id));
      return laidEdges.map((e) => ({ ...e, selected: chosen.has(e.id) }));
    });
  }, [laidEdges, setEdges]);

  const connect = useCallback((c: Connection) => c.source && c.target && onConnect(c.source, c.target), [onConnect]);
  return (
    <div className="dag editor-dag" data-testid="editor-graph">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        nodeTypes={nodeTypes}
        fitView
        fitViewOptions={{ maxZoom: 1 }}
        minZoom={0.1}
        nodesConnectable={!readOnly}
        onConnect={connect}
        onInit={setFlow}
        onNodesDelete={(ns) => ns.forEach((n) => onRemove(n.id))}
        onEdgesDelete={(es) => es.forEach((e) => onDisconnect(e.source, e.target))}
        deleteKeyCode={readOnly ? null : ["Delete", "Backspace"]}
        onNodeClick={(_, n) => onSelect(n.id)}
        onPaneClick={() => onSelect(null)}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={16} />
        <Controls showInteractive={false} />
        <MiniMap pannable zoomable nodeClassName={(n) => `mini-type-${(n.data as EditNodeData).task.type}`} />
      </ReactFlow>
    </div>
  );
}

// Runs × tasks, coloured by state, virtualized both ways (TanStack Virtual): only the cells
// on screen are in the page, and only the runs on screen have their tasks read.
import { useQueries, useQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useRef } from "react";
import { Link } from "react-router";
import { api, data } from "../api/client";
import { stateTone } from "../lib/states";

const ROW = 24;
const COL = 24;
const LABEL = 150;
const HEAD = 110;

/** The grid of the workflow's newest runs (at most 200) by its tasks (`tasks`, in order). */
export function RunGrid({ project, name, tasks }: { project: string; name: string; tasks: string[] }) {
  const runs = useQuery({
    queryKey: ["instances", project, name, "grid"],
    queryFn: async () => data(await api.GET("/api/v1/instances", { params: { query: { project, workflow: name, limit: 200 } } })).instances,
  });
  const box = useRef<HTMLDivElement>(null);
  const list = runs.data ?? [];
  const rows = useVirtualizer({ count: list.length, getScrollElement: () => box.current, estimateSize: () => ROW, overscan: 5, paddingStart: HEAD });
  const cols = useVirtualizer({
    horizontal: true,
    count: tasks.length,
    getScrollElement: () => box.current,
    estimateSize: () => COL,
    overscan: 5,
    paddingStart: LABEL,
  });
  const visible = rows.getVirtualItems().map((r) => list[r.index]!);
  const states = useQueries({
    queries: visible.map((run) => ({
      queryKey: ["instance-tasks", run.id],
      staleTime: run.state === "succeeded" || run.state === "failed" || run.state === "stopped" ? Infinity : 5_000,
      queryFn: async () => {
        const t = data(await api.GET("/api/v1/instances/{id}/tasks", { params: { path: { id: run.id }, query: { limit: 1000 } } })).tasks;
        return Object.fromEntries(t.map((x) => [x.task_name, x.state])) as Record<string, string>;
      },
    })),
  });
  const byRun = new Map(visible.map((run, i) => [run.id, states[i]?.data]));
  if (runs.error) return <p className="error">{runs.error.message}</p>;
  if (runs.data && list.length === 0) return <p className="muted">No runs yet.</p>;
  return (
    <div className="rungrid" ref={box} data-testid="run-grid" role="grid" aria-rowcount={list.length} aria-colcount={tasks.length}>
      <div style={{ width: cols.getTotalSize(), height: rows.getTotalSize(), position: "relative" }}>
        <div className="rg-corner">run \ task</div>
        {cols.getVirtualItems().map((c) => (
          <div key={c.key} className="rg-head" style={{ transform: `translateX(${c.start}px)` }} title={tasks[c.index]} role="columnheader">
            <span>{tasks[c.index]}</span>
          </div>
        ))}
        {rows.getVirtualItems().map((r) => {
          const run = list[r.index]!;
          const s = byRun.get(run.id);
          return (
            <div key={r.key} className="rg-row" style={{ transform: `translateY(${r.start}px)` }} role="row">
              <Link className="rg-label" to={`/instances/${run.id}`} role="rowheader">
                <span className={`dot tone-${stateTone(run.state)}`} /> #{run.id}
              </Link>
              {cols.getVirtualItems().map((c) => {
                const task = tasks[c.index]!;
                const state = s?.[task];
                return (
                  <Link
                    key={c.key}
                    to={`/instances/${run.id}?task=${encodeURIComponent(task)}`}
                    className={`rg-cell tone-${s ? stateTone(state) : "loading"}`}
                    style={{ transform: `translateX(${c.start}px)` }}
                    title={`#${run.id} ${task}: ${s ? (state ?? "not run") : "…"}`}
                    data-state={state ?? "none"}
                    role="gridcell"
                    aria-label={`#${run.id} ${task}: ${state ?? "not run"}`}
                  />
                );
              })}
            </div>
          );
        })}
      </div>
    </div>
  );
}

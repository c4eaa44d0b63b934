// The task list of an instance, virtualized (TanStack Virtual): an instance of thousands
// of tasks puts only the rows on screen in the page.
import { useRef } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { Schemas } from "../api/client";
import { StateBadge } from "./State";
import { mappedCounts } from "../lib/items";
import { ItemCounts } from "./Items";
import { TaskCells, TaskHead } from "./TaskCells";

/** One row: a task instance, or a task of the definition that has none (yet). */
export type TaskRow = { task: Schemas["TaskInstance"]; name: string; ended: number } | { task: null; name: string; state?: string; note: string };

const ROW = 30;

/** The rows, with `states` (task name → state) over the rows' own, `selected` marked. */
export function TaskTable({
  rows,
  states,
  selected,
  onSelect,
}: {
  rows: TaskRow[];
  states: Record<string, string>;
  selected: string | null;
  onSelect: (task: string) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({ count: rows.length, getScrollElement: () => box.current, estimateSize: () => ROW, overscan: 10 });
  return (
    <div className="vtable" role="table" data-testid="tasks">
      <TaskHead first="Task" />
      <div className="vbody" ref={box}>
        <div style={{ height: v.getTotalSize(), position: "relative" }}>
          {v.getVirtualItems().map((item) => {
            const row = rows[item.index]!;
            const t = row.task;
            return (
              <div
                key={row.name}
                role="row"
                className={`vrow${row.name === selected ? " selected" : ""}${t ? "" : " muted"}`}
                style={{ transform: `translateY(${item.start}px)`, height: ROW }}
                onClick={() => onSelect(row.name)}
                data-task={row.name}
              >
                <span className="mono">{row.name}</span>
                {t ? (
                  <TaskCells
                    task={t}
                    name={row.name}
                    state={states[row.name]}
                    attemptNote={"ended" in row && row.ended > 1 && <span className="muted"> ({row.ended} ended)</span>}
                    before={mappedCounts(t) && <><ItemCounts counts={mappedCounts(t)!} testId={`counts-${row.name}`} /> </>}
                  />
                ) : (
                  <span className="wide">{"note" in row && (row.state ? <StateBadge state={row.state} /> : row.note)}</span>
                )}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

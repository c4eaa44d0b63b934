// The task list of an instance, virtualized (TanStack Virtual): an instance of thousands
// of tasks puts only the rows on screen in the page.
import { useRef } from "react";
import { Link } from "react-router";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { Schemas } from "../api/client";
import { StateBadge } from "./State";
import { duration, time } from "../lib/format";
import { mappedCounts } from "../lib/items";
import { ItemCounts } from "./Items";

/** One row: a task instance, or a task of the definition that has none (yet). */
export type TaskRow = { task: Schemas["TaskInstance"]; name: string; ended: number } | { task: null; name: string; state?: string; note: string };

const ROW = 30;
const HEAD = ["Task", "State", "Attempt", "Worker", "Started", "Duration", "Exit", "Message", "Log"];

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
      <div className="vrow vhead" role="row">
        {HEAD.map((h) => (
          <span key={h} role="columnheader" className={h === "Attempt" || h === "Exit" ? "num" : undefined}>
            {h}
          </span>
        ))}
      </div>
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
                  <>
                    <span>
                      <StateBadge state={states[row.name] ?? t.state} />
                    </span>
                    <span className="num">
                      {t.attempt}
                      {"ended" in row && row.ended > 1 && <span className="muted"> ({row.ended} ended)</span>}
                    </span>
                    <span>{t.worker ?? "—"}</span>
                    <span>{time(t.started_at)}</span>
                    <span>{duration(t.duration_ms)}</span>
                    <span className="num">{t.exit_code ?? "—"}</span>
                    <span className="message" title={t.message ?? undefined}>
                      {mappedCounts(t) && <ItemCounts counts={mappedCounts(t)!} testId={`counts-${row.name}`} />} {t.message ?? ""}
                    </span>
                    <span>
                      <Link to={`/task-instances/${t.id}/log`} data-testid={`log-${row.name}`} onClick={(e) => e.stopPropagation()}>
                        log
                      </Link>
                    </span>
                  </>
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

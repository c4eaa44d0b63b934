// The instance's attempts on a time axis: one row per task, one bar per attempt (a retried
// task shows each), coloured by the attempt's state; a running one grows until it ends.
// A mapped task's items are not drawn (there may be thousands): its row has its own bar and
// says how many items it has, to be read in the items table.
import { memo, useEffect, useState } from "react";
import type { Schemas } from "../api/client";
import { duration } from "../lib/format";
import { gantt, place } from "../lib/gantt";
import { stateTone } from "../lib/states";
import { mappedCounts } from "../lib/items";

/** The Gantt of an instance's attempts; drawn again only when its props change (the page
 * re-renders on every batch of live events, the attempts change with its re-reads). */
export const Gantt = memo(function Gantt({
  tasks,
  attempts,
  selected,
  onSelect,
}: {
  tasks: Schemas["TaskInstance"][];
  attempts: Schemas["Attempt"][];
  selected: string | null;
  onSelect: (task: string) => void;
}) {
  const anyRunning = tasks.some((t) => t.started_at && !t.ended_at);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!anyRunning) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [anyRunning]);
  const g = gantt(tasks, attempts, now);
  const items: Record<string, number> = {};
  for (const t of tasks) {
    const c = mappedCounts(t);
    if (c) items[t.task_name] = c.items;
  }
  if (!g.rows.length) return <p className="muted">No task has started yet.</p>;
  return (
    <div className="gantt" data-testid="gantt">
      <div className="gantt-axis muted small">
        <span>0</span>
        <span>{duration(g.to - g.from)}</span>
      </div>
      {g.rows.map((r) => (
        <div key={r.task} className={`gantt-row${r.task === selected ? " selected" : ""}`}>
          <button className="gantt-name linkish" onClick={() => onSelect(r.task)} title={r.task}>
            {r.task}
          </button>
          <div className="gantt-track">
            {r.bars.map((b) => {
              const at = place(b, g.from, g.to);
              return (
                <span
                  key={b.attempt}
                  className={`gantt-bar tone-${stateTone(b.state)}${b.running ? " running" : ""}`}
                  style={{ left: `${at.left}%`, width: `${at.width}%` }}
                  title={`${r.task} attempt ${b.attempt}: ${b.state}, ${duration(b.end - b.start)}${b.worker ? ` on ${b.worker}` : ""}`}
                  data-testid={`bar-${r.task}-${b.attempt}`}
                  data-state={b.state}
                >
                  {b.attempt > 1 || r.bars.length > 1 ? b.attempt : ""}
                </span>
              );
            })}
            {items[r.task] !== undefined && (
              <span className="gantt-note" data-testid={`gantt-items-${r.task}`}>
                {items[r.task]} items, see the items table
              </span>
            )}
          </div>
        </div>
      ))}
    </div>
  );
});

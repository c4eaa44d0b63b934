// The cells a task instance shows in a table row (the instance's task list, a mapped task's
// items), and the head of such a table: one place, so that both tables read alike.
import type { ReactNode } from "react";
import { Link } from "react-router";
import type { Schemas } from "../api/client";
import { StateBadge } from "./State";
import { duration, time } from "../lib/format";

/** The columns after the first (the task's or item's name). */
const COLUMNS = ["State", "Attempt", "Worker", "Started", "Duration", "Exit", "Message", "Log"];

/** The header row of a table of task instances whose first column is `first`. */
export function TaskHead({ first }: { first: string }) {
  return (
    <div className="vrow vhead" role="row">
      {[first, ...COLUMNS].map((h) => (
        <span key={h} role="columnheader" className={h === "Attempt" || h === "Exit" ? "num" : undefined}>
          {h}
        </span>
      ))}
    </div>
  );
}

/**
 * A task instance's cells after its name: `state` (the live one, when newer than the row's),
 * the attempt with `attemptNote` after it, worker, times, exit code, the message after
 * `before`, and the link to its log (`log-NAME` for tests).
 */
export function TaskCells({
  task: t,
  name,
  state,
  attemptNote,
  before,
}: {
  task: Schemas["TaskInstance"];
  name: string;
  state?: string;
  attemptNote?: ReactNode;
  before?: ReactNode;
}) {
  return (
    <>
      <span>
        <StateBadge state={state ?? t.state} />
      </span>
      <span className="num">
        {t.attempt}
        {attemptNote}
      </span>
      <span>{t.worker ?? "—"}</span>
      <span>{time(t.started_at)}</span>
      <span>{duration(t.duration_ms)}</span>
      <span className="num">{t.exit_code ?? "—"}</span>
      <span className="message" title={t.message ?? undefined}>
        {before}
        {t.message ?? ""}
      </span>
      <span>
        <Link to={`/task-instances/${t.id}/log`} data-testid={`log-${name}`} onClick={(e) => e.stopPropagation()}>
          log
        </Link>
      </span>
    </>
  );
}

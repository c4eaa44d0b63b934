import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router";
import { api, data, type Schemas } from "../api/client";
import { StateBadge } from "../components/State";
import { OnlineToggle, useSchedules } from "../components/ScheduleView";
import { StartWorkflowDialog } from "../components/StartDialog";
import { BackfillDialog } from "../components/BackfillDialog";
import { can, useMe } from "../lib/auth";
import { duration, time } from "../lib/format";
import { triggerText, type ScheduleBlock } from "../lib/schedule";
import { runSquares, search, sortKey, sortRows, type SortKey } from "../lib/workflowlist";

const COLUMNS: [SortKey | null, string][] = [
  ["name", "Name"],
  ["version", "Version"],
  [null, "Schedule"],
  ["state", "Last run"],
  ["last_start", "Started"],
  [null, "Duration"],
  [null, "Last 10 runs"],
  [null, ""],
];

/** `/projects/:project?q=&sort=name|version|last_start|state&desc=1`: its workflows, each
 * with its schedule, last run and the squares of its last 10 runs, all from one answer of
 * `GET /workflows?runs=10` (and one of the project's schedules); Start, Backfill and
 * Export YAML per row. */
export function WorkflowsPage() {
  const { project = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const filter = params.get("q") ?? "";
  const key = sortKey(params.get("sort"));
  const ascending = params.get("desc") !== "1";
  const me = useMe();
  const operator = can(me.data, project, "operator");
  const [starting, setStarting] = useState<string | null>(null);
  const [backfilling, setBackfilling] = useState<string | null>(null);
  const workflows = useQuery({
    queryKey: ["workflows", project],
    queryFn: async () =>
      data(await api.GET("/api/v1/workflows", { params: { query: { project, limit: 1000, runs: 10 } } })),
  });
  const schedules = useSchedules(project);
  const scheduleOf = (name: string) => schedules.data?.find((s) => s.name === name);
  const rows = sortRows(search(workflows.data?.workflows ?? [], filter), key, ascending);
  const set = (change: Record<string, string | null>) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(change)) {
      if (v === null) p.delete(k);
      else p.set(k, v);
    }
    setParams(p, { replace: true });
  };
  const sortBy = (k: SortKey) => set({ sort: k, desc: k === key && ascending ? "1" : null });
  return (
    <section className="page wide">
      <div className="titlebar">
        <h2>
          Workflows of <span className="mono">{project}</span>
        </h2>
        <input className="search" placeholder="Search by name" value={filter} onChange={(e) => set({ q: e.target.value || null })} />
        {can(me.data, project, "editor") && (
          <Link className="button primary" to={`/projects/${encodeURIComponent(project)}/workflows/new`} data-testid="new-workflow">
            + New workflow
          </Link>
        )}
      </div>
      {workflows.error && <p className="error">{workflows.error.message}</p>}
      <div className="scroll-x">
        <table className="grid" data-testid="workflows">
          <thead>
            <tr>
              {COLUMNS.map(([k, label]) => (
                <th key={label || "actions"} aria-sort={k === key ? (ascending ? "ascending" : "descending") : undefined}>
                  {k ? (
                    <button type="button" className="sort" onClick={() => sortBy(k)} data-sort={k}>
                      {label} {k === key ? (ascending ? "▲" : "▼") : ""}
                    </button>
                  ) : (
                    label
                  )}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((w) => (
              <WorkflowRow
                key={w.id}
                w={w}
                schedule={scheduleOf(w.name)}
                operator={operator}
                onStart={() => setStarting(w.name)}
                onBackfill={() => setBackfilling(w.name)}
              />
            ))}
          </tbody>
        </table>
      </div>
      {workflows.data && rows.length === 0 && <p className="muted">No workflow{filter ? ` matching “${filter}”` : ""}.</p>}
      {starting && <StartWorkflowDialog project={project} name={starting} onClose={() => setStarting(null)} />}
      {backfilling && (
        <BackfillDialog
          project={project}
          name={backfilling}
          cron={(scheduleOf(backfilling)?.spec as ScheduleBlock | undefined)?.cron}
          onClose={() => setBackfilling(null)}
        />
      )}
    </section>
  );
}

/** Downloads the latest version's source as `NAME.yaml`. */
async function exportYaml(project: string, name: string) {
  const w = data(await api.GET("/api/v1/workflows/{name}", { params: { path: { name }, query: { project } } }));
  const url = URL.createObjectURL(new Blob([w.source], { type: "application/yaml" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `${name}.yaml`;
  a.click();
  URL.revokeObjectURL(url);
}

function WorkflowRow({
  w,
  schedule,
  operator,
  onStart,
  onBackfill,
}: {
  w: Schemas["WorkflowSummary"];
  schedule?: Schemas["Schedule"];
  operator: boolean;
  onStart: () => void;
  onBackfill: () => void;
}) {
  const last = w.recent_runs?.[0];
  const spec = schedule?.spec as ScheduleBlock | undefined;
  return (
    <tr data-workflow={w.name}>
      <td>
        <Link to={`/projects/${encodeURIComponent(w.project)}/workflows/${encodeURIComponent(w.name)}`}>{w.name}</Link>
      </td>
      <td className="num">v{w.latest_version}</td>
      <td className="message">
        {schedule && spec ? (
          <span className="toggle">
            <span title={spec.cron}>{triggerText(spec)}</span>
            {schedule.online && schedule.next_fire_at && <span className="muted small">next {time(schedule.next_fire_at)}</span>}
            <OnlineToggle schedule={schedule} />
          </span>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>
        {last ? (
          <Link to={`/instances/${last.id}`}>
            <StateBadge state={last.state} /> #{last.id}
          </Link>
        ) : (
          <span className="muted">never run</span>
        )}
      </td>
      <td>{time(last?.started_at)}</td>
      <td>{duration(last?.duration_ms)}</td>
      <td>
        <span className="squares" data-testid={`squares-${w.name}`}>
          {runSquares(w).map((s) => (
            <Link
              key={s.id}
              to={`/instances/${s.id}`}
              className={`square tone-${s.tone}`}
              data-state={s.state}
              title={`#${s.id} ${s.state}`}
              aria-label={`instance ${s.id}: ${s.state}`}
            />
          ))}
        </span>
      </td>
      <td>
        <span className="row-actions">
        {operator && (
          <>
            <button type="button" className="ghost" onClick={onStart} aria-label={`Start ${w.name}`}>
              ▶ Start
            </button>
            <button type="button" className="ghost" onClick={onBackfill} aria-label={`Backfill ${w.name}`}>
              ⟲ Backfill
            </button>
          </>
        )}
        <button type="button" className="ghost" onClick={() => void exportYaml(w.project, w.name)} aria-label={`Export ${w.name} as YAML`}>
          ⤓ YAML
        </button>
        </span>
      </td>
    </tr>
  );
}

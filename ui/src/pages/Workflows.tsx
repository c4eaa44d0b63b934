import { useQuery } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router";
import { api, data, type Schemas } from "../api/client";
import { StateBadge } from "../components/State";
import { can, useMe } from "../lib/auth";
import { duration, time } from "../lib/format";

/** `/projects/:project`: its workflows, with latest version, schedule and last run. */
export function WorkflowsPage() {
  const { project = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const filter = params.get("q") ?? "";
  const me = useMe();
  const workflows = useQuery({
    queryKey: ["workflows", project],
    queryFn: async () =>
      data(await api.GET("/api/v1/workflows", { params: { query: { project, limit: 1000 } } })),
  });
  const schedules = useQuery({
    queryKey: ["schedules"],
    queryFn: async () => data(await api.GET("/api/v1/schedules", { params: { query: { limit: 1000 } } })),
  });
  const scheduleOf = (name: string) => schedules.data?.schedules.find((s) => s.project === project && s.name === name);
  const shown = (workflows.data?.workflows ?? []).filter((w) => w.project === project && w.name.includes(filter));
  return (
    <section className="page">
      <div className="titlebar">
        <h2>
          Workflows of <span className="mono">{project}</span>
        </h2>
        <input
          className="search"
          placeholder="Filter by name"
          value={filter}
          onChange={(e) => setParams(e.target.value ? { q: e.target.value } : {}, { replace: true })}
        />
        {can(me.data, project, "editor") && (
          <Link className="button primary" to={`/projects/${encodeURIComponent(project)}/workflows/new`} data-testid="new-workflow">
            + New workflow
          </Link>
        )}
      </div>
      {workflows.error && <p className="error">{workflows.error.message}</p>}
      <table className="grid" data-testid="workflows">
        <thead>
          <tr>
            <th>Name</th>
            <th className="num">Version</th>
            <th>Schedule</th>
            <th>Last run</th>
            <th>Duration</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((w) => (
            <WorkflowRow key={w.id} w={w} schedule={scheduleOf(w.name)} />
          ))}
        </tbody>
      </table>
      {workflows.data && shown.length === 0 && <p className="muted">No workflow.</p>}
    </section>
  );
}

function WorkflowRow({ w, schedule }: { w: Schemas["WorkflowSummary"]; schedule?: Schemas["Schedule"] }) {
  const last = useQuery({
    queryKey: ["instances", w.project, w.name, "last"],
    queryFn: async () =>
      data(
        await api.GET("/api/v1/instances", {
          params: { query: { project: w.project, workflow: w.name, limit: 1 } },
        }),
      ).instances[0] ?? null,
  });
  const spec = schedule?.spec as { cron?: string } | undefined;
  return (
    <tr>
      <td>
        <Link to={`/projects/${encodeURIComponent(w.project)}/workflows/${encodeURIComponent(w.name)}`}>{w.name}</Link>
      </td>
      <td className="num">v{w.latest_version}</td>
      <td>
        {schedule ? (
          <span title={schedule.next_fire_at ? `next: ${time(schedule.next_fire_at)}` : undefined}>
            <span className="mono">{spec?.cron ?? "—"}</span> {schedule.online ? "online" : <span className="muted">offline</span>}
          </span>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>
        {last.data ? (
          <Link to={`/instances/${last.data.id}`}>
            <StateBadge state={last.data.state} /> #{last.data.id}
          </Link>
        ) : (
          <span className="muted">{last.isLoading ? "…" : "never run"}</span>
        )}
      </td>
      <td>{duration(last.data?.duration_ms)}</td>
      <td>{time(w.updated_at)}</td>
    </tr>
  );
}

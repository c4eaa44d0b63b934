import { useQuery } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router";
import { api, data, type Schemas } from "../api/client";
import { StateBadge } from "../components/State";
import { duration, time } from "../lib/format";
import { WORKFLOW_STATES } from "../lib/states";

/**
 * `/projects/:project/instances?state=&workflow=&cursor=`: the project's instances, newest
 * first, a page at a time by the server's cursor (the cursors of the pages before are in
 * the URL too, so Back and shared links land on the same page).
 */
export function InstancesPage() {
  const { project = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const state = params.get("state") ?? "";
  const workflow = params.get("workflow") ?? "";
  const trail = params.getAll("cursor");
  const cursor = trail[trail.length - 1];
  const page = useQuery({
    queryKey: ["instances", project, state, workflow, cursor],
    queryFn: async () =>
      data(
        await api.GET("/api/v1/instances", {
          params: {
            query: { project, state: (state || undefined) as Schemas["Instance"]["state"] | undefined, workflow: workflow || undefined, cursor, limit: 50 },
          },
        }),
      ),
    placeholderData: (previous) => previous,
  });
  const go = (next: { state?: string; workflow?: string; cursors?: string[] }) => {
    const p = new URLSearchParams();
    const s = next.state ?? state;
    const w = next.workflow ?? workflow;
    if (s) p.set("state", s);
    if (w) p.set("workflow", w);
    for (const c of next.cursors ?? []) p.append("cursor", c);
    setParams(p);
  };
  return (
    <section className="page">
      <div className="titlebar">
        <h2>
          Instances of <span className="mono">{project}</span>
        </h2>
        <label className="inline">
          State
          <select value={state} onChange={(e) => go({ state: e.target.value })} data-testid="state-filter">
            <option value="">any</option>
            {WORKFLOW_STATES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <input
          className="search"
          placeholder="Workflow name"
          defaultValue={workflow}
          onKeyDown={(e) => e.key === "Enter" && go({ workflow: (e.target as HTMLInputElement).value })}
        />
      </div>
      {page.error && <p className="error">{page.error.message}</p>}
      <table className="grid" data-testid="instances">
        <thead>
          <tr>
            <th className="num">Id</th>
            <th>Workflow</th>
            <th>State</th>
            <th>Submitted</th>
            <th>Duration</th>
            <th>Trigger</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.instances.map((i) => (
            <tr key={i.id}>
              <td className="num">
                <Link to={`/instances/${i.id}`}>#{i.id}</Link>
              </td>
              <td>
                <Link to={`/projects/${encodeURIComponent(i.project)}/workflows/${encodeURIComponent(i.name)}`}>{i.name}</Link> v
                {i.version}
              </td>
              <td>
                <StateBadge state={i.state} />
              </td>
              <td>{time(i.submitted_at)}</td>
              <td>{duration(i.duration_ms)}</td>
              <td>{i.schedule_id ? "schedule" : "manual"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="pager">
        <button disabled={trail.length === 0} onClick={() => go({ cursors: trail.slice(0, -1) })}>
          ← Newer
        </button>
        <span className="muted">page {trail.length + 1}</span>
        <button
          disabled={!page.data?.next_cursor}
          onClick={() => page.data?.next_cursor && go({ cursors: [...trail, page.data.next_cursor] })}
        >
          Older →
        </button>
      </div>
    </section>
  );
}

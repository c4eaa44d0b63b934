import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router";
import { api, data, errorMessage, type Schemas } from "../api/client";
import { can, useMe } from "../lib/auth";
import { bulkPlan, bulkSummary, runBulk, type BulkAction, type BulkResult } from "../lib/bulk";
import { StateBadge } from "../components/State";
import { duration, time } from "../lib/format";
import { WORKFLOW_STATES } from "../lib/states";

/**
 * `/projects/:project/instances?state=&workflow=&cursor=`: the project's instances, newest
 * first, a page at a time by the server's cursor (the cursors of the pages before are in
 * the URL too, so Back and shared links land on the same page). An operator selects
 * instances and stops or reruns them in bulk: one request per instance, each row then says
 * what happened to it (done, refused and why, or skipped: not in a state that takes it).
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
  const me = useMe();
  const operator = can(me.data, project, "operator");
  const queries = useQueryClient();
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [results, setResults] = useState<Map<number, BulkResult>>(new Map());
  const [busy, setBusy] = useState(false);
  const shownIds = page.data?.instances.map((i) => i.id) ?? [];
  const allSelected = shownIds.length > 0 && shownIds.every((id) => selected.has(id));
  const toggle = (id: number) =>
    setSelected((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const bulk = async (action: BulkAction) => {
    const plan = bulkPlan(page.data?.instances ?? [], selected, action);
    setBusy(true);
    const sent = await runBulk(plan.send, async (id): Promise<BulkResult> => {
      const path = { params: { path: { id } } };
      const answer =
        action === "stop"
          ? await api.POST("/api/v1/instances/{id}/stop", path)
          : await api.POST("/api/v1/instances/{id}/rerun", path);
      if (!answer.response.ok) return { outcome: "failed", message: errorMessage(answer.error, `HTTP ${answer.response.status}`) };
      const body = answer.data as { id: number } | undefined;
      return { outcome: "done", message: action === "stop" ? "stopping" : `rerun as #${body?.id}` };
    });
    setResults(new Map([...plan.skipped, ...sent]));
    setBusy(false);
    void queries.invalidateQueries({ queryKey: ["instances", project] });
  };
  const go = (next: { state?: string; workflow?: string; cursors?: string[] }) => {
    const p = new URLSearchParams();
    const s = next.state ?? state;
    const w = next.workflow ?? workflow;
    if (s) p.set("state", s);
    if (w) p.set("workflow", w);
    for (const c of next.cursors ?? []) p.append("cursor", c);
    setSelected(new Set());
    setResults(new Map());
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
      {operator && (
        <div className="row-actions bulk" data-testid="bulk">
          <span className="muted">{selected.size} selected</span>
          <button type="button" disabled={busy || selected.size === 0} onClick={() => void bulk("stop")}>
            Stop selected
          </button>
          <button type="button" disabled={busy || selected.size === 0} onClick={() => void bulk("rerun")}>
            Rerun selected
          </button>
          {results.size > 0 && (
            <span role="status" data-testid="bulk-summary">
              {bulkSummary(results)}
            </span>
          )}
        </div>
      )}
      <table className="grid" data-testid="instances">
        <thead>
          <tr>
            {operator && (
              <th>
                <input
                  type="checkbox"
                  aria-label="select every instance of the page"
                  checked={allSelected}
                  onChange={() => setSelected(allSelected ? new Set() : new Set(shownIds))}
                />
              </th>
            )}
            <th className="num">Id</th>
            <th>Workflow</th>
            <th>State</th>
            <th>Submitted</th>
            <th>Duration</th>
            <th>Trigger</th>
            {results.size > 0 && <th>Result</th>}
          </tr>
        </thead>
        <tbody>
          {page.data?.instances.map((i) => (
            <tr key={i.id} data-instance={i.id}>
              {operator && (
                <td>
                  <input type="checkbox" aria-label={`select #${i.id}`} checked={selected.has(i.id)} onChange={() => toggle(i.id)} />
                </td>
              )}
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
              {results.size > 0 && <td className="message">{resultCell(results.get(i.id))}</td>}
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

/** What a bulk command did to one row. */
function resultCell(r: BulkResult | undefined) {
  if (!r) return null;
  const tone = r.outcome === "done" ? "ok" : r.outcome === "failed" ? "error" : "muted";
  return (
    <span className={tone === "ok" ? undefined : tone} data-result={r.outcome}>
      {r.outcome === "done" ? "✓ " : r.outcome === "failed" ? "✗ " : ""}
      {r.message}
    </span>
  );
}

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { api, data, errorMessage } from "../api/client";
import { StateBadge } from "../components/State";
import { can, useMe } from "../lib/auth";
import { doneShare } from "../lib/backfill";
import { time } from "../lib/format";
import { useEventStream } from "../lib/live";
import { useProjectNav } from "../lib/nav";
import { useTrailing } from "../lib/throttle";

/** `/backfills/:id`: a backfill's progress and instances, read again as its workflow's
 * events arrive on the stream. */
export default function BackfillPage() {
  const { id: raw } = useParams();
  const id = Number(raw);
  const queries = useQueryClient();
  const me = useMe();
  const backfill = useQuery({
    queryKey: ["backfill", id],
    queryFn: async () => data(await api.GET("/api/v1/backfills/{id}", { params: { path: { id } } })),
  });
  const b = backfill.data;
  useProjectNav(b?.project);
  // The stream of its workflow's events, from the newest one before this page's read.
  const head = useQuery({
    queryKey: ["workflow-events-head", b?.project, b?.workflow],
    enabled: !!b,
    staleTime: Infinity,
    queryFn: async () =>
      data(await api.GET("/api/v1/events", { params: { query: { project: b!.project, workflow: b!.workflow, limit: 1 } } }))
        .events[0]?.id ?? 0,
  });
  const reread = useTrailing(() => void queries.invalidateQueries({ queryKey: ["backfill", id] }));
  const filters = b && b.state === "running" ? { project: b.project, workflow: b.workflow } : null;
  const status = useEventStream(filters, head.data, reread);
  const [stopError, setStopError] = useState<string | null>(null);

  if (backfill.error) return <p className="error pad">{backfill.error.message}</p>;
  if (!b) return <p className="muted pad">Loading…</p>;
  const p = b.progress;
  const total = b.times.length;
  const stop = async () => {
    const answer = await api.POST("/api/v1/backfills/{id}/stop", { params: { path: { id } } });
    setStopError(answer.response.ok ? null : errorMessage(answer.error, `HTTP ${answer.response.status}`));
    void queries.invalidateQueries({ queryKey: ["backfill", id] });
  };
  const parts: [keyof typeof p, string][] = [
    ["succeeded", "ok"],
    ["failed", "bad"],
    ["stopped", "muted"],
    ["cancelled", "muted"],
    ["running", "active"],
    ["waiting", "idle"],
  ];
  return (
    <section className="page">
      <div className="titlebar">
        <h2>
          <Link to={`/projects/${encodeURIComponent(b.project)}`}>{b.project}</Link> /{" "}
          <Link to={`/projects/${encodeURIComponent(b.project)}/workflows/${encodeURIComponent(b.workflow)}`}>{b.workflow}</Link> ·
          backfill #{b.id}
        </h2>
        <span className={`badge tone-${b.state === "done" ? "ok" : b.state === "running" ? "active" : "muted"}`} data-testid="backfill-state">
          {b.state}
        </span>
        {b.state === "running" && (
          <span className={`stream ${status}`}>{status === "live" ? "● live" : status === "reconnecting" ? "reconnecting…" : "connecting…"}</span>
        )}
        <span className="spacer" />
        {b.state === "running" && can(me.data, b.project, "operator") && <button onClick={stop}>Stop the backfill</button>}
      </div>
      <p className="muted">
        {total} instance{total === 1 ? "" : "s"}, {b.parallel} at a time · {b.started} started · made {time(b.created_at)}
      </p>
      {stopError && <p className="error">{stopError}</p>}
      <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(doneShare(p) * 100)}>
        {parts.map(([k, tone]) =>
          p[k] > 0 ? <span key={k} className={`tone-${tone}`} style={{ flexGrow: p[k] }} title={`${p[k]} ${k}`} /> : null,
        )}
      </div>
      <p data-testid="backfill-progress">
        {parts
          .filter(([k]) => p[k] > 0)
          .map(([k]) => `${p[k]} ${k}`)
          .join(" · ") || "nothing yet"}
      </p>
      <table className="grid" data-testid="backfill-instances">
        <thead>
          <tr>
            <th>Schedule time</th>
            <th className="num">Instance</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {b.times.map((t) => {
            const i = b.instances?.find((x) => x.schedule_time === t);
            return (
              <tr key={t}>
                <td className="mono">{time(t)}</td>
                <td className="num">{i ? <Link to={`/instances/${i.id}`}>#{i.id}</Link> : "—"}</td>
                <td>{i ? <StateBadge state={i.state} /> : <span className="muted">{b.state === "running" ? "waiting" : "cancelled"}</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, data, errorMessage, type Schemas } from "../api/client";
import { can, useMe } from "../lib/auth";
import { time } from "../lib/format";
import { cronText, fireText, scheduleZone, triggerText, type ScheduleBlock } from "../lib/schedule";

/** The schedules of `project` (the API lists every project's; at most 1000). */
export function useSchedules(project: string) {
  return useQuery({
    queryKey: ["schedules", project],
    queryFn: async () =>
      data(await api.GET("/api/v1/schedules", { params: { query: { project, limit: 1000 } } })).schedules,
  });
}

/** Online / offline, for editors (the API refuses others anyway). */
export function OnlineToggle({ schedule }: { schedule: Schemas["Schedule"] }) {
  const me = useMe();
  const queries = useQueryClient();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const editor = can(me.data, schedule.project, "editor");
  const flip = async () => {
    setBusy(true);
    const opts = { params: { path: { name: schedule.name }, query: { project: schedule.project } } };
    const answer = schedule.online
      ? await api.POST("/api/v1/workflows/{name}/schedule/offline", opts)
      : await api.POST("/api/v1/workflows/{name}/schedule/online", opts);
    setBusy(false);
    setError(answer.response.ok ? null : errorMessage(answer.error, `HTTP ${answer.response.status}`));
    await queries.invalidateQueries({ queryKey: ["schedules", schedule.project] });
    void queries.invalidateQueries({ queryKey: ["workflows", schedule.project] });
  };
  return (
    <span className="toggle">
      <span className={`badge tone-${schedule.online ? "ok" : "muted"}`} data-testid={`online-${schedule.name}`}>
        {schedule.online ? "online" : "offline"}
      </span>
      {editor && (
        <button className="ghost" onClick={flip} disabled={busy} aria-label={`${schedule.online ? "Take offline" : "Put online"}: ${schedule.name}`}>
          {schedule.online ? "take offline" : "put online"}
        </button>
      )}
      {error && <span className="error">{error}</span>}
    </span>
  );
}

/** A workflow's schedule: its trigger and words, zone, policies, online toggle, and the next
 * ten fire times in the schedule's zone from the server's preview. */
export function ScheduleView({ project, name }: { project: string; name: string }) {
  const schedules = useSchedules(project);
  const schedule = schedules.data?.find((s) => s.name === name);
  const preview = useQuery({
    queryKey: ["schedule-preview", project, name, schedule?.spec],
    enabled: !!schedule,
    queryFn: async () =>
      data(await api.GET("/api/v1/workflows/{name}/schedule/preview", { params: { path: { name }, query: { project, count: 10 } } })).fires,
  });
  if (schedules.error) return <p className="error">{schedules.error.message}</p>;
  if (!schedules.data) return <p className="muted">Loading…</p>;
  if (!schedule) return <p className="muted">This workflow has no schedule: add a <code>schedule:</code> block to its file.</p>;
  const spec = schedule.spec as unknown as ScheduleBlock;
  const words = spec.cron ? cronText(spec.cron) : null;
  const zone = scheduleZone(spec, schedule.workflow_timezone);
  return (
    <div className="schedule" data-testid="schedule">
      <dl className="settings">
        <div>
          <dt>Trigger</dt>
          <dd>
            {spec.cron ? <code>{spec.cron}</code> : triggerText(spec)}
            {words && ("text" in words ? <span data-testid="cron-words"> — {words.text}</span> : <span className="error"> — {words.error}</span>)}
          </dd>
        </div>
        <div>
          <dt>Time zone</dt>
          <dd>{zone}</dd>
        </div>
        <div>
          <dt>State</dt>
          <dd>
            <OnlineToggle schedule={schedule} />
          </dd>
        </div>
        <div>
          <dt>Misfire</dt>
          <dd>
            {spec.misfire ?? "—"}
            {spec.misfire === "fire_all" && ` (at most ${spec.max_catchup ?? 10})`}
          </dd>
        </div>
        <div>
          <dt>Concurrency</dt>
          <dd>{spec.concurrency ?? "—"}</dd>
        </div>
        {(spec.start || spec.end) && (
          <div>
            <dt>Window</dt>
            <dd>
              {spec.start ?? "…"} to {spec.end ?? "…"}
            </dd>
          </div>
        )}
        <div>
          <dt>Last fire</dt>
          <dd>{time(schedule.last_fire_at)}</dd>
        </div>
      </dl>
      <h4>Next 10 fire times ({zone})</h4>
      {preview.error ? (
        <p className="error">{preview.error.message}</p>
      ) : !preview.data ? (
        <p className="muted">Loading…</p>
      ) : preview.data.length === 0 ? (
        <p className="muted">None known ahead (a fixed delay fires after each run ends).</p>
      ) : (
        <ol className="fires" data-testid="schedule-preview">
          {preview.data.map((f) => (
            <li key={f} className="mono">
              {fireText(f)}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

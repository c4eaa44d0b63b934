import { Link, useParams } from "react-router";
import { OnlineToggle, useSchedules } from "../components/ScheduleView";
import { time } from "../lib/format";
import { scheduleZone, triggerText, type ScheduleBlock } from "../lib/schedule";

/** `/projects/:project/schedules`: the project's schedules with their next fires. */
export default function SchedulesPage() {
  const { project = "" } = useParams();
  const schedules = useSchedules(project);
  return (
    <section className="page">
      <div className="titlebar">
        <h2>
          <Link to={`/projects/${encodeURIComponent(project)}`}>{project}</Link> / schedules
        </h2>
      </div>
      {schedules.error && <p className="error">{schedules.error.message}</p>}
      <div className="scroll-x">
        <table className="grid" data-testid="schedules">
          <thead>
            <tr>
              <th>Workflow</th>
              <th>Trigger</th>
              <th>Zone</th>
              <th>Next fire</th>
              <th>Last fire</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {schedules.data?.map((s) => {
              const spec = s.spec as unknown as ScheduleBlock;
              return (
                <tr key={s.name}>
                  <td>
                    <Link to={`/projects/${encodeURIComponent(project)}/workflows/${encodeURIComponent(s.name)}?tab=schedule`}>{s.name}</Link>
                  </td>
                  <td className="message">
                    {spec.cron && <code>{spec.cron}</code>} {triggerText(spec)}
                  </td>
                  <td>{scheduleZone(spec, s.workflow_timezone)}</td>
                  <td>{s.online ? time(s.next_fire_at) : "—"}</td>
                  <td>{time(s.last_fire_at)}</td>
                  <td>
                    <OnlineToggle schedule={s} />
                  </td>
                </tr>
              );
            })}
            {schedules.data?.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  No workflow of this project has a schedule.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

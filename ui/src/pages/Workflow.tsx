import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useLocation, useParams, useSearchParams } from "react-router";
import type { Schemas } from "../api/client";
import { api, data } from "../api/client";
import { Dag } from "../components/Dag";
import { StartDialog } from "../components/StartDialog";
import { BackfillDialog } from "../components/BackfillDialog";
import { StateBadge } from "../components/State";
import { TaskPanel } from "../components/TaskPanel";
import { ScheduleView } from "../components/ScheduleView";
import { Versions } from "../components/Versions";
import { RunGrid } from "../components/RunGrid";
import { can, useMe } from "../lib/auth";
import type { TaskDef } from "../lib/dag";
import type { ParamDecl } from "../lib/startform";
import { duration, time } from "../lib/format";

type Spec = {
  tasks: TaskDef[];
  params?: Record<string, string>;
  param_rules?: Record<string, ParamDecl>;
  extra_params?: string;
  failure_strategy?: string;
  priority?: string;
  description?: string;
  schedule?: { cron?: string };
};

const num = (v: string | null) => (v === null || v === "" ? null : Number(v));

const TABS = [
  ["dag", "DAG"],
  ["runs", "Runs"],
  ["grid", "Grid"],
  ["schedule", "Schedule"],
  ["versions", "Versions"],
  ["yaml", "YAML"],
] as const;

/** `/projects/:project/workflows/:name?tab=dag|runs|grid|schedule|versions|yaml&task=&version=`
 * (versions: `&view=` one, `&a=&b=` a diff). */
export default function WorkflowPage() {
  const { project = "", name = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const tab = params.get("tab") ?? "dag";
  const task = params.get("task");
  const version = params.get("version");
  const me = useMe();
  const saved = (useLocation().state as { saved?: Schemas["Applied"] } | null)?.saved;
  const [starting, setStarting] = useState(false);
  const [backfilling, setBackfilling] = useState(false);
  const workflow = useQuery({
    queryKey: ["workflow", project, name, version],
    queryFn: async () =>
      data(
        await api.GET("/api/v1/workflows/{name}", {
          params: { path: { name }, query: { project, version: version ? Number(version) : undefined } },
        }),
      ),
  });
  const set = (k: string, v: string | null) => {
    const p = new URLSearchParams(params);
    if (v === null) p.delete(k);
    else p.set(k, v);
    setParams(p, { replace: k === "task" });
  };
  if (workflow.error) return <p className="error pad">{workflow.error.message}</p>;
  if (!workflow.data) return <p className="muted pad">Loading…</p>;
  const w = workflow.data;
  const spec = w.spec as unknown as Spec;
  const selected = spec.tasks.find((t) => t.name === task);
  return (
    <section className="page wide">
      <div className="titlebar">
        <h2>
          <Link to={`/projects/${encodeURIComponent(project)}`}>{project}</Link> / <span className="mono">{w.name}</span>
        </h2>
        <span className="muted">
          v{w.version}
          {w.version !== w.latest_version && ` (latest v${w.latest_version})`} · {spec.tasks.length} tasks ·{" "}
          failure strategy {spec.failure_strategy ?? "end"}
        </span>
        <span className="spacer" />
        {can(me.data, project, "operator") && (
          <button className="primary" onClick={() => setStarting(true)} data-testid="start">
            ▶ Start
          </button>
        )}
        {can(me.data, project, "operator") && (
          <button onClick={() => setBackfilling(true)} data-testid="backfill">
            ⟲ Backfill
          </button>
        )}
        {can(me.data, project, "editor") && (
          <Link className="button" to={`/projects/${encodeURIComponent(project)}/workflows/${encodeURIComponent(name)}/edit`} data-testid="edit">
            ✎ Edit
          </Link>
        )}
      </div>
      {saved && <SavedNote saved={saved} />}
      {spec.description && <p className="muted">{spec.description}</p>}
      <div className="tabs" role="tablist">
        {TABS.map(([t, label]) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "tab on" : "tab"} onClick={() => set("tab", t)}>
            {label}
          </button>
        ))}
      </div>
      {tab === "dag" && (
        <div className="split">
          <Dag tasks={spec.tasks} selected={task} onSelect={(t) => set("task", t)} />
          {selected && <TaskPanel task={selected} onClose={() => set("task", null)} />}
        </div>
      )}
      {tab === "runs" && (
        <>
          <Runs project={project} name={name} />
          <Backfills project={project} name={name} />
        </>
      )}
      {tab === "grid" && <RunGrid project={project} name={name} tasks={spec.tasks.map((t) => t.name)} />}
      {tab === "versions" && (
        <Versions
          project={project}
          name={name}
          view={num(params.get("view"))}
          a={num(params.get("a"))}
          b={num(params.get("b"))}
          onChange={(change) => {
            const p = new URLSearchParams(params);
            for (const [k, v] of Object.entries(change)) {
              if (v === null || v === undefined) p.delete(k);
              else p.set(k, String(v));
            }
            if (change.version !== undefined) p.set("tab", "dag");
            setParams(p);
          }}
        />
      )}
      {tab === "schedule" && <ScheduleView project={project} name={name} />}
      {tab === "yaml" && <pre className="code source" data-testid="yaml">{w.source}</pre>}
      {starting && (
        <StartDialog
          project={project}
          name={name}
          params={spec.params ?? {}}
          paramRules={spec.param_rules ?? {}}
          extraParams={spec.extra_params === "allow"}
          failureStrategy={spec.failure_strategy ?? "end"}
          priority={spec.priority ?? "medium"}
          tasks={spec.tasks.map((t) => t.name)}
          onClose={() => setStarting(false)}
        />
      )}
      {backfilling && <BackfillDialog project={project} name={name} cron={spec.schedule?.cron} onClose={() => setBackfilling(false)} />}
    </section>
  );
}

/** What the editor's save did, said on the page it went to. */
function SavedNote({ saved }: { saved: Schemas["Applied"] }) {
  const what =
    saved.outcome === "unchanged"
      ? `Unchanged: the file is the same as version ${saved.version}, so no new version was made.`
      : saved.outcome === "created"
        ? `Saved: created, version ${saved.version}.`
        : `Saved: version ${saved.version}.`;
  return (
    <p className={saved.outcome === "unchanged" ? "notice muted" : "notice ok"} data-testid="saved">
      {what}
    </p>
  );
}

/** The workflow's backfills (of the newest 200 of all), each a link to its page. */
function Backfills({ project, name }: { project: string; name: string }) {
  const list = useQuery({
    queryKey: ["backfills", project, name],
    queryFn: async () =>
      data(await api.GET("/api/v1/backfills", { params: { query: { limit: 200 } } })).backfills.filter(
        (b) => b.project === project && b.workflow === name,
      ),
  });
  if (!list.data?.length) return null;
  return (
    <>
      <h4>Backfills</h4>
      <table className="grid" data-testid="backfills">
        <thead>
          <tr>
            <th className="num">Id</th>
            <th>State</th>
            <th className="num">Instances</th>
            <th>Progress</th>
            <th>Made</th>
          </tr>
        </thead>
        <tbody>
          {list.data.map((b) => (
            <tr key={b.id}>
              <td className="num">
                <Link to={`/backfills/${b.id}`}>#{b.id}</Link>
              </td>
              <td>{b.state}</td>
              <td className="num">{b.times.length}</td>
              <td>
                {b.progress.succeeded} succeeded, {b.progress.failed} failed, {b.progress.running} running, {b.progress.waiting} waiting
              </td>
              <td>{time(b.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Runs({ project, name }: { project: string; name: string }) {
  const runs = useQuery({
    queryKey: ["instances", project, name, "runs"],
    queryFn: async () =>
      data(await api.GET("/api/v1/instances", { params: { query: { project, workflow: name, limit: 50 } } })),
  });
  return (
    <table className="grid">
      <thead>
        <tr>
          <th className="num">Id</th>
          <th>State</th>
          <th className="num">Version</th>
          <th>Submitted</th>
          <th>Duration</th>
        </tr>
      </thead>
      <tbody>
        {runs.data?.instances.map((i) => (
          <tr key={i.id}>
            <td className="num">
              <Link to={`/instances/${i.id}`}>#{i.id}</Link>
            </td>
            <td>
              <StateBadge state={i.state} />
            </td>
            <td className="num">v{i.version}</td>
            <td>{time(i.submitted_at)}</td>
            <td>{duration(i.duration_ms)}</td>
          </tr>
        ))}
      </tbody>
      {runs.data?.next_cursor && (
        <tfoot>
          <tr>
            <td colSpan={5}>
              <Link to={`/projects/${encodeURIComponent(project)}/instances?workflow=${encodeURIComponent(name)}`}>All runs →</Link>
            </td>
          </tr>
        </tfoot>
      )}
    </table>
  );
}

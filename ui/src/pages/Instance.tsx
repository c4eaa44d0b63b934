import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, data, errorMessage, type Schemas } from "../api/client";
import { Dag } from "../components/Dag";
import { StateBadge } from "../components/State";
import { TaskTable } from "../components/TaskTable";
import { Gantt } from "../components/Gantt";
import { ItemTable } from "../components/Items";
import { itemFilter, mappedCounts } from "../lib/items";
import { childInstances } from "../lib/gantt";
import { can, useMe } from "../lib/auth";
import type { TaskDef } from "../lib/dag";
import { duration, time } from "../lib/format";
import { applyEvents, instanceStateOf, useEventStream, type LiveEvent } from "../lib/live";
import { workflowEnded } from "../lib/states";
import { useProjectNav } from "../lib/nav";
import { actionsFor, type Action } from "../lib/actions";

/** How long live events gather before they are applied together (one render for all). */
const LIVE_BATCH_MS = 50;

/** `/instances/:id?task=&items=`: the instance's DAG coloured live by task state, its tasks,
 * actions, and a selected mapped task's items filtered by state (a page of its own for each
 * instance: nothing live carries over to the next one). */
export default function InstanceRoute() {
  const { id } = useParams();
  return <InstancePage key={id} id={Number(id)} />;
}

function InstancePage({ id }: { id: number }) {
  const [params, setParams] = useSearchParams();
  const selected = params.get("task");
  const filter = itemFilter(params.get("items"));
  const queries = useQueryClient();
  const navigate = useNavigate();
  const me = useMe();
  const key = useMemo(() => ["instance", id], [id]);
  // Where the live stream starts: the instance's newest event, read BEFORE its detail, so
  // that an event recorded in between is streamed (again, harmlessly) rather than missed.
  const head = useQuery({
    queryKey: ["instance-events-head", id],
    queryFn: async () =>
      data(await api.GET("/api/v1/events", { params: { query: { instance: id, limit: 1 } } })).events[0]?.id ?? 0,
    staleTime: Infinity,
  });
  const detail = useQuery({
    queryKey: key,
    enabled: head.isSuccess,
    queryFn: async () => data(await api.GET("/api/v1/instances/{id}", { params: { path: { id } } })),
  });
  const inst = detail.data?.instance;
  // The mapped tasks' items counted, by task name (the same objects until a re-read changes them).
  const counts = useMemo(() => {
    const out: Record<string, Schemas["ItemCounts"]> = {};
    for (const t of detail.data?.tasks ?? []) {
      const c = mappedCounts(t);
      if (c) out[t.task_name] = c;
    }
    return out;
  }, [detail.data]);
  useProjectNav(inst?.project);
  const workflow = useQuery({
    queryKey: ["workflow", inst?.project, inst?.name, String(inst?.version)],
    enabled: !!inst,
    queryFn: async () =>
      data(
        await api.GET("/api/v1/workflows/{name}", {
          params: { path: { name: inst!.name }, query: { project: inst!.project, version: inst!.version } },
        }),
      ),
    staleTime: Infinity,
  });

  // Live: events after the last one the first read included; each one colours its task
  // (within LIVE_BATCH_MS) and asks for the detail again (at most every 250 ms) for the rest
  // of the row. A mapped task's items' events (`load[3]`) so re-read its counts, once for all
  // the events of 250 ms, and the items table after each such re-read (`version`).
  const [after, setAfter] = useState<number | undefined>(undefined);
  const [live, setLive] = useState<Record<string, string>>({});
  const [liveState, setLiveState] = useState<string | undefined>(undefined);
  useEffect(() => {
    if (detail.data && head.data !== undefined && after === undefined) {
      setAfter(Math.max(head.data, ...detail.data.events.map((e) => e.id)));
    }
  }, [detail.data, head.data, after]);
  const refetch = useRef<ReturnType<typeof setTimeout> | null>(null);
  // Events are applied in batches, at most every LIVE_BATCH_MS: one render for many events
  // (a wide instance sends hundreds a second), not one each.
  const pending = useRef<LiveEvent[]>([]);
  const flush = useRef<ReturnType<typeof setTimeout> | null>(null);
  const onEvent = useCallback(
    (e: LiveEvent) => {
      pending.current.push(e);
      if (!flush.current) {
        flush.current = setTimeout(() => {
          flush.current = null;
          const batch = pending.current;
          pending.current = [];
          setLive((s) => applyEvents(s, batch));
          const ended = batch.map((b) => instanceStateOf(b.kind)).filter((x) => x !== undefined);
          if (ended.length) setLiveState(ended[ended.length - 1]);
        }, LIVE_BATCH_MS);
      }
      if (!refetch.current) {
        refetch.current = setTimeout(() => {
          refetch.current = null;
          void queries.invalidateQueries({ queryKey: key });
        }, 250);
      }
    },
    [queries, key],
  );
  useEffect(
    () => () => {
      clearTimeout(refetch.current ?? undefined);
      clearTimeout(flush.current ?? undefined);
    },
    [],
  );
  const status = useEventStream(inst ? { instance: id } : null, after, onEvent);

  // The detail, once read again, is the truth: live colours only fill the gap until then.
  useEffect(() => {
    setLive({});
    setLiveState(undefined);
  }, [detail.dataUpdatedAt]);

  // One callback for the rows of the Gantt and the task list, so that a memoized Gantt is
  // not drawn again by every batch of live events (it changes with the detail's re-read).
  const selectTask = useCallback((t: string) => setParams({ task: t }, { replace: true }), [setParams]);

  const [actionError, setActionError] = useState<string | null>(null);
  const act = async (a: Action) => {
    setActionError(null);
    const path = { params: { path: { id } } };
    const answer =
      a === "stop"
        ? await api.POST("/api/v1/instances/{id}/stop", path)
        : a === "pause"
          ? await api.POST("/api/v1/instances/{id}/pause", path)
          : a === "resume"
            ? await api.POST("/api/v1/instances/{id}/resume", path)
            : a === "recover"
              ? await api.POST("/api/v1/instances/{id}/recover", path)
              : await api.POST("/api/v1/instances/{id}/rerun", path);
    if (!answer.response.ok) {
      setActionError(errorMessage(answer.error, `HTTP ${answer.response.status}`));
      return;
    }
    if (a === "rerun" && answer.data && "rerun_of" in answer.data) navigate(`/instances/${answer.data.id}`);
    else void queries.invalidateQueries({ queryKey: key });
  };

  const [taskError, setTaskError] = useState<string | null>(null);
  const markSuccess = async (taskId: number) => {
    setTaskError(null);
    const answer = await api.POST("/api/v1/task-instances/{id}/mark-success", { params: { path: { id: taskId } } });
    if (!answer.response.ok) setTaskError(errorMessage(answer.error, `HTTP ${answer.response.status}`));
    void queries.invalidateQueries({ queryKey: key });
  };
  const runFrom = async (task: string) => {
    if (!inst) return;
    setTaskError(null);
    const answer = await api.POST("/api/v1/workflows/{name}/start", {
      params: { path: { name: inst.name }, query: { project: inst.project, version: inst.version } },
      body: { params: inst.params as Record<string, string>, from_task: task, scope: "downstream" },
    });
    if (!answer.response.ok || !answer.data) {
      setTaskError(errorMessage(answer.error, `HTTP ${answer.response.status}`));
      return;
    }
    navigate(`/instances/${answer.data.id}`);
  };

  if (detail.error || head.error) return <p className="error pad">{(detail.error ?? head.error)!.message}</p>;
  if (!detail.data || !inst) return <p className="muted pad">Loading…</p>;
  const d = detail.data;
  const states: Record<string, string> = {};
  for (const t of d.tasks) states[t.task_name] = t.state;
  Object.assign(states, live);
  const state = liveState ?? inst.state;
  const tasks = (workflow.data?.spec as unknown as { tasks: TaskDef[] } | undefined)?.tasks;
  const operator = can(me.data, inst.project, "operator");
  const attemptsOf = (taskId: number) => d.attempts.filter((a) => a.task_instance_id === taskId);
  const children = childInstances([...d.events, ...d.tasks.map((t) => ({ task_name: t.task_name, message: t.message ?? "" }))]);
  // The child instances of its sub-workflow tasks, as the instance's answer lists them.
  for (const c of d.children ?? []) {
    const parentTask = d.tasks.find((t) => t.id === c.parent_task_instance_id)?.task_name;
    if (parentTask && !(children[parentTask] ?? []).includes(c.id)) (children[parentTask] ??= []).push(c.id);
  }
  const chosen = d.tasks.find((t) => t.task_name === selected);
  const chosenState = selected ? states[selected] : undefined;

  return (
    <section className="page wide">
      <div className="titlebar">
        <h2>
          <Link to={`/projects/${encodeURIComponent(inst.project)}/instances`}>{inst.project}</Link> /{" "}
          <Link to={`/projects/${encodeURIComponent(inst.project)}/workflows/${encodeURIComponent(inst.name)}`}>{inst.name}</Link> #
          {inst.id}
        </h2>
        <span data-testid="instance-state">
          <StateBadge state={state} />
        </span>
        {(inst.pending_commands?.length ?? 0) > 0 && <span className="muted">pending: {inst.pending_commands?.join(", ")}</span>}
        <span className={`stream ${status}`} data-testid="stream-status">
          {status === "live" ? "● live" : status === "reconnecting" ? "reconnecting…" : "connecting…"}
        </span>
        <span className="spacer" />
        {operator &&
          actionsFor(state).map((a) => (
            <button key={a} onClick={() => act(a)} data-testid={`action-${a}`}>
              {a}
            </button>
          ))}
      </div>
      <p className="muted">
        v{inst.version} · submitted {time(inst.submitted_at)} · started {time(inst.started_at)} · ended {time(inst.ended_at)} ·{" "}
        {duration(inst.duration_ms)}
        {inst.owner && ` · master ${inst.owner}`}
        {inst.parent_instance_id && (
          <>
            {" "}
            · child of <Link to={`/instances/${inst.parent_instance_id}`}>#{inst.parent_instance_id}</Link>
          </>
        )}
      </p>
      {actionError && <p className="error">{actionError}</p>}
      <div className="split">
        {tasks ? (
          <Dag
            tasks={tasks}
            states={states}
            counts={counts}
            selected={selected}
            onSelect={(t) => setParams(t ? { task: t } : {}, { replace: true })}
          />
        ) : (
          <div className="dag muted pad">Loading the DAG…</div>
        )}
      </div>
      <Gantt tasks={d.tasks} attempts={d.attempts} selected={selected} onSelect={selectTask} />
      {selected && (
        <div className="task-actions" data-testid="task-actions">
          <strong className="mono">{selected}</strong>
          <StateBadge state={chosenState} />
          {(children[selected] ?? []).map((c) => (
            <Link key={c} to={`/instances/${c}`} data-testid="child-link">
              child instance #{c} →
            </Link>
          ))}
          {chosen && <Link to={`/task-instances/${chosen.id}/log`}>log</Link>}
          <span className="spacer" />
          {operator && chosen && (chosenState === "failed" || chosenState === "killed") && workflowEnded(state) && (
            <button onClick={() => markSuccess(chosen.id)} data-testid="mark-success">
              mark success
            </button>
          )}
          {operator && (
            <button onClick={() => runFrom(selected)} data-testid="run-from-here" title="A new instance of this version from this task and its downstream">
              run from here
            </button>
          )}
          {taskError && <span className="error">{taskError}</span>}
        </div>
      )}
      {selected && counts[selected] && (
        <ItemTable
          id={id}
          task={selected}
          filter={filter}
          version={detail.dataUpdatedAt}
          onFilter={(f) => setParams(f === "all" ? { task: selected } : { task: selected, items: f }, { replace: true })}
        />
      )}
      <TaskTable
        rows={[
          ...d.tasks.map((t) => ({ task: t, name: t.task_name, ended: attemptsOf(t.id).length })),
          ...d.not_started.map((n) => ({
            task: null,
            name: n,
            state: live[n],
            note: workflowEnded(state) ? "did not run" : "not started",
          })),
        ]}
        states={states}
        selected={selected}
        onSelect={selectTask}
      />
    </section>
  );
}

// The workflow editor (`/projects/:project/workflows/new`, `…/workflows/:name/edit`): a
// graph with a palette and a side form, and the YAML text, two views of one text. The server
// checks the text as it is typed (`POST /workflows:validate`, debounced) and its problems are
// shown where they are in both; Save applies it. Unsaved edits are not lost by leaving the
// page without a question.
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useBlocker, useNavigate, useParams } from "react-router";
import { api, data, errorMessage, type Schemas } from "../api/client";
import { EditorGraph } from "../components/EditorGraph";
import { TaskForm, WorkflowForm } from "../components/TaskForm";
import { can, useMe } from "../lib/auth";
import { PALETTE, TASK_FORMS } from "../lib/taskForms";
import { typeColor } from "../lib/states";
import {
  addTask,
  connect,
  disconnect,
  problemsByTask,
  readModel,
  removeTask,
  renameTask,
  setField,
  setType,
  setWorkflowField,
  type PlacedProblem,
  type Problem,
} from "../lib/workflowDoc";

const YamlEditor = lazy(() => import("../components/YamlEditor"));

/** How long typing pauses before the text is checked. */
const VALIDATE_AFTER_MS = 400;

/** The text a new workflow starts from. */
export function newWorkflow(project: string): string {
  return `# A new workflow: add tasks from the palette, or write them here.
project: ${project}
name: new-workflow
tasks: []
`;
}

type Check =
  | { state: "checking" }
  | { state: "valid"; summary: Schemas["Validated"] }
  | { state: "invalid"; problems: Problem[] }
  | { state: "failed"; message: string };

/** The problems of an error answer (a 400 of a workflow file), or its message as one. */
function problemsOf(error: unknown): Problem[] {
  const e = (error as { error?: { message?: string; problems?: Problem[] } } | undefined)?.error;
  if (e?.problems?.length) return e.problems;
  return [{ message: e?.message ?? "the server refused the file" }];
}

/** The server's check of `text`, asked again after each pause in typing. */
function useValidation(text: string, file: string): Check {
  const [check, setCheck] = useState<Check>({ state: "checking" });
  useEffect(() => {
    const abort = new AbortController();
    setCheck({ state: "checking" });
    const timer = setTimeout(async () => {
      try {
        const answer = await api.POST("/api/v1/workflows:validate", { body: { source: text, file }, signal: abort.signal });
        if (abort.signal.aborted) return;
        if (answer.data) setCheck({ state: "valid", summary: answer.data });
        else if (answer.response.status === 400) setCheck({ state: "invalid", problems: problemsOf(answer.error) });
        else setCheck({ state: "failed", message: `could not check the file: ${errorMessage(answer.error, `HTTP ${answer.response.status}`)}` });
      } catch (e) {
        if (!abort.signal.aborted) setCheck({ state: "failed", message: `could not check the file: ${(e as Error).message}` });
      }
    }, VALIDATE_AFTER_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [text, file]);
  return check;
}

/** Asks before leaving the page (in the app, or the tab) while `dirty`. */
function useLeaveGuard(dirty: boolean, leaving: React.RefObject<boolean>) {
  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirty && !leaving.current && currentLocation.pathname !== nextLocation.pathname);
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
  return blocker;
}

/** The page: the workflow's current text (or a new one's), then the editor on it. */
export default function EditorPage() {
  const { project = "", name } = useParams();
  const me = useMe();
  const current = useQuery({
    // Always read anew (not another page's copy): the edit starts from the latest version.
    queryKey: ["workflow-source", project, name],
    enabled: name !== undefined,
    staleTime: 0,
    gcTime: 0,
    queryFn: async () => data(await api.GET("/api/v1/workflows/{name}", { params: { path: { name: name! }, query: { project } } })),
  });
  if (me.data && !can(me.data, project, "editor")) {
    return <p className="error pad">Editing a workflow needs the editor role on {project}.</p>;
  }
  if (name === undefined) return <Editor key={`${project}/`} project={project} initial={newWorkflow(project)} />;
  if (current.error) return <p className="error pad">{current.error.message}</p>;
  if (!current.data) return <p className="muted pad">Loading…</p>;
  return <Editor key={`${project}/${name}`} project={project} name={name} initial={current.data.source} version={current.data.version} />;
}

function Editor({ project, name, initial, version }: { project: string; name?: string; initial: string; version?: number }) {
  const navigate = useNavigate();
  const queries = useQueryClient();
  const [text, setText] = useState(initial);
  const [base, setBase] = useState(initial);
  const [view, setView] = useState<"graph" | "yaml">("graph");
  const [selected, setSelected] = useState<string | null>(null);
  const [layoutKey, setLayoutKey] = useState(0);
  const [saving, setSaving] = useState(false);
  const [refused, setRefused] = useState<{ text: string; problems: Problem[] } | null>(null);
  const [editError, setEditError] = useState<string | null>(null);
  const leaving = useRef(false);
  const dirty = text !== base;
  const blocker = useLeaveGuard(dirty, leaving);
  const model = useMemo(() => readModel(text), [text]);
  const check = useValidation(text, `${name ?? "new-workflow"}.yaml`);
  const readOnly = model.syntax.length > 0;

  // A refused save's problems stand until the text changes; then the live check's do.
  const problems: Problem[] = refused?.text === text ? refused.problems : check.state === "invalid" ? check.problems : [];
  const byTask = useMemo(() => problemsByTask(text, problems), [text, problems]);
  const nodeProblems = useMemo(() => new Map([...byTask].filter(([k]) => k !== "")), [byTask]);

  /** Applies a graph or form edit to the text (an edit refused says why). */
  const change = useCallback((f: (t: string) => string) => {
    setText((t) => {
      try {
        setEditError(null);
        return f(t);
      } catch (e) {
        setEditError((e as Error).message);
        return t;
      }
    });
  }, []);

  const add = (type: string) => {
    try {
      const added = addTask(text, type);
      setEditError(null);
      setText(added.text);
      setSelected(added.name);
    } catch (e) {
      setEditError((e as Error).message);
    }
  };

  const save = async () => {
    setSaving(true);
    try {
      const answer = await api.POST("/api/v1/workflows", { body: { source: text, file: `${name ?? "new-workflow"}.yaml` } });
      if (!answer.data) {
        setRefused({ text, problems: problemsOf(answer.error) });
        return;
      }
      const applied = answer.data;
      // The workflow's pages show the new version, not what they had read before.
      await queries.invalidateQueries({ queryKey: ["workflow", applied.project, applied.name] });
      await queries.invalidateQueries({ queryKey: ["workflows", applied.project] });
      leaving.current = true;
      setBase(text);
      navigate(`/projects/${encodeURIComponent(applied.project)}/workflows/${encodeURIComponent(applied.name)}`, { state: { saved: applied } });
    } catch (e) {
      setRefused({ text, problems: [{ message: `could not save: ${(e as Error).message}` }] });
    } finally {
      setSaving(false);
    }
  };

  const task = model.tasks.find((t) => t.name === selected);
  const title = name ? (
    <>
      Edit <Link to={`/projects/${encodeURIComponent(project)}/workflows/${encodeURIComponent(name)}`}>{name}</Link>
      {version !== undefined && <span className="muted"> (from v{version})</span>}
    </>
  ) : (
    <>New workflow</>
  );
  return (
    <section className="page wide editor">
      <div className="titlebar">
        <h2>
          <Link to={`/projects/${encodeURIComponent(project)}`}>{project}</Link> / {title}
        </h2>
        <Status check={check} problems={problems} refused={refused?.text === text} />
        <span className="spacer" />
        {dirty && <span className="muted small" data-testid="dirty">unsaved changes</span>}
        <button className="primary" onClick={save} disabled={saving} data-testid="save">
          {saving ? "Saving…" : "Save"}
        </button>
      </div>
      <div className="tabs" role="tablist" data-testid="editor-tabs">
        {(["graph", "yaml"] as const).map((v) => (
          <button key={v} role="tab" aria-selected={view === v} className={view === v ? "tab on" : "tab"} onClick={() => setView(v)}>
            {v === "graph" ? "Graph" : "YAML"}
          </button>
        ))}
      </div>
      {editError && <p className="error">{editError}</p>}
      {view === "graph" && (
        <>
          <div className="palette" data-testid="palette">
            <span className="muted">Add a task:</span>
            {PALETTE.map((t) => (
              <button key={t} type="button" onClick={() => add(t)} disabled={readOnly} data-testid={`add-${t}`}>
                <span className="dot" style={{ background: typeColor(t) }} /> {TASK_FORMS[t]!.label}
              </button>
            ))}
            <span className="spacer" />
            <button type="button" onClick={() => setLayoutKey((k) => k + 1)} data-testid="auto-layout">
              Auto layout
            </button>
          </div>
          {readOnly && <p className="error">The YAML has syntax errors: the graph is shown as it was read; fix them in the YAML tab.</p>}
          <div className="split">
            <EditorGraph
              tasks={model.tasks}
              problems={nodeProblems}
              selected={selected}
              readOnly={readOnly}
              layoutKey={layoutKey}
              onSelect={setSelected}
              onConnect={(from, to) => change((t) => connect(t, from, to))}
              onDisconnect={(from, to) => change((t) => disconnect(t, from, to))}
              onRemove={(n) => {
                change((t) => removeTask(t, n));
                setSelected((s) => (s === n ? null : s));
              }}
            />
            {!task && (
              <WorkflowForm
                fields={model.workflow}
                problems={byTask.get("") ?? []}
                readOnly={readOnly}
                onField={(key, value) => change((t) => setWorkflowField(t, key, value))}
              />
            )}
            {task && (
              <TaskForm
                task={task}
                others={model.tasks.map((t) => t.name).filter((n) => n !== task.name)}
                problems={byTask.get(task.name) ?? []}
                readOnly={readOnly}
                onRename={(to) => {
                  change((t) => renameTask(t, task.name, to));
                  setSelected(to);
                }}
                onType={(type) => change((t) => setType(t, task.name, type))}
                onDepends={(from, on) => change((t) => (on ? connect(t, from, task.name) : disconnect(t, from, task.name)))}
                onField={(key, value) => change((t) => setField(t, task.name, key, value))}
                onRemove={() => {
                  change((t) => removeTask(t, task.name));
                  setSelected(null);
                }}
                onClose={() => setSelected(null)}
              />
            )}
          </div>
        </>
      )}
      {view === "yaml" && (
        <div className="yaml-pane">
          <Suspense fallback={<p className="muted pad">Loading the editor…</p>}>
            <YamlEditor value={text} onChange={setText} problems={problems} />
          </Suspense>
        </div>
      )}
      <ProblemList
        problems={problems}
        byTask={byTask}
        onPick={(p) => {
          if (!p.task) return;
          setSelected(p.task);
          setView("graph");
        }}
      />
      {blocker.state === "blocked" && (
        <div className="modal-back">
          <div className="modal card" role="dialog" aria-label="Unsaved changes">
            <h3>Leave without saving?</h3>
            <p>This workflow has changes that are not saved. Leaving the page loses them.</p>
            <div className="actions">
              <button onClick={() => blocker.reset()} data-testid="stay">
                Stay
              </button>
              <button className="danger" onClick={() => blocker.proceed()} data-testid="leave">
                Leave
              </button>
            </div>
          </div>
        </div>
      )}
    </section>
  );
}

function Status({ check, problems, refused }: { check: Check; problems: Problem[]; refused: boolean }) {
  if (refused) return <span className="error" data-testid="status">Not saved: {problems.length} problem{problems.length === 1 ? "" : "s"}</span>;
  switch (check.state) {
    case "checking":
      return <span className="muted" data-testid="status">Checking…</span>;
    case "valid":
      return (
        <span className="ok" data-testid="status">
          ✓ Valid: {check.summary.tasks.length} task{check.summary.tasks.length === 1 ? "" : "s"}
        </span>
      );
    case "invalid":
      return (
        <span className="error" data-testid="status">
          {problems.length} problem{problems.length === 1 ? "" : "s"}
        </span>
      );
    case "failed":
      return <span className="error" data-testid="status">{check.message}</span>;
  }
}

/** Every problem, in file order; a problem of a task selects it. */
function ProblemList({
  problems,
  byTask,
  onPick,
}: {
  problems: Problem[];
  byTask: Map<string, PlacedProblem[]>;
  onPick: (p: Problem) => void;
}) {
  if (problems.length === 0) return null;
  const placed = [...byTask.entries()].flatMap(([task, ps]) => ps.map((p) => ({ ...p, task: task || p.task || undefined })));
  placed.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  return (
    <ul className="problems" data-testid="problems">
      {placed.map((p, i) => (
        <li key={i}>
          <button type="button" className="ghost" onClick={() => onPick(p)} disabled={!p.task}>
            {p.line ? `line ${p.line}${p.column ? `:${p.column}` : ""}` : "—"}
          </button>{" "}
          {p.task && <span className="mono">{p.task}{p.field ? `.${p.field}` : ""}: </span>}
          <span className="error">{p.message}</span>
        </li>
      ))}
    </ul>
  );
}

import { useState, type FormEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { Dialog } from "./Dialog";
import { api, data, type Schemas } from "../api/client";
import {
  formErrors,
  formFields,
  initialValue,
  serverErrors,
  startBody,
  type Field,
  type Overrides,
  type ParamDecl,
} from "../lib/startform";

const PRIORITIES = ["highest", "high", "medium", "low", "lowest"] as const;

/** What the dialog reads of a definition. */
export interface StartSpec {
  tasks: { name: string }[];
  params?: Record<string, string>;
  param_rules?: Record<string, ParamDecl>;
  extra_params?: string;
  failure_strategy?: string;
  priority?: string;
}

/** The start dialog of a workflow known by name only (a row of the workflows list): its
 * latest definition is read first. */
export function StartWorkflowDialog({ project, name, onClose }: { project: string; name: string; onClose: () => void }) {
  const workflow = useQuery({
    queryKey: ["workflow", project, name, null],
    queryFn: async () => data(await api.GET("/api/v1/workflows/{name}", { params: { path: { name }, query: { project } } })),
  });
  if (!workflow.data) return null;
  const spec = workflow.data.spec as unknown as StartSpec;
  return (
    <StartDialog
      project={project}
      name={name}
      params={spec.params ?? {}}
      paramRules={spec.param_rules ?? {}}
      extraParams={spec.extra_params === "allow"}
      failureStrategy={spec.failure_strategy ?? "end"}
      priority={spec.priority ?? "medium"}
      tasks={spec.tasks.map((t) => t.name)}
      onClose={onClose}
    />
  );
}

/** The start dialog: a form from the workflow's declared params (each with the input its
 * rule calls for, the rule in words and its description), undeclared params when the
 * workflow takes them, the three overrides of this one instance (failure strategy,
 * priority, worker group), a start task with its scope, and a dry run that shows what would
 * run. The server's refusals are shown at their fields. */
export function StartDialog({
  project,
  name,
  params,
  paramRules,
  extraParams,
  failureStrategy,
  priority,
  tasks,
  onClose,
}: {
  project: string;
  name: string;
  params: Record<string, string>;
  paramRules: Record<string, ParamDecl>;
  /** Whether the workflow takes params it does not declare. */
  extraParams: boolean;
  failureStrategy: string;
  priority: string;
  tasks: string[];
  onClose: () => void;
}) {
  const fields = formFields(params, paramRules);
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(fields.map((f) => [f.name, initialValue(f)])),
  );
  const [extras, setExtras] = useState<[string, string][]>([]);
  const [overrides, setOverrides] = useState<Overrides>({ failure_strategy: "", priority: "", worker_group: "" });
  const [fromTask, setFromTask] = useState("");
  const [scope, setScope] = useState("downstream");
  const [server, setServer] = useState<Record<string, string>>({});
  const [touched, setTouched] = useState(false);
  const [preview, setPreview] = useState<Schemas["StartPreview"] | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();

  const local = formErrors(fields, values);
  const errorOf = (key: string) => server[key] ?? (touched ? local[key] : undefined);
  const known = new Set([...fields.map((f) => f.name), "worker_group", "from_task"]);
  const general = Object.entries(server).filter(([k]) => !known.has(k));
  const body = () => startBody(fields, { values, extras, overrides, fromTask, scope });

  /** Sends the start (or its dry run, `dry`) unless the form has a problem. */
  const send = async (dry: boolean) => {
    setTouched(true);
    if (Object.keys(local).length) return;
    setBusy(true);
    setServer({});
    const options = { params: { path: { name }, query: { project } }, body: body() };
    const answer = dry
      ? await api.POST("/api/v1/workflows/{name}/start/preview", options)
      : await api.POST("/api/v1/workflows/{name}/start", options);
    setBusy(false);
    if (!answer.response.ok || !answer.data) {
      const refused = serverErrors(answer.error);
      setServer(Object.keys(refused).length ? refused : { "": `HTTP ${answer.response.status}` });
      setPreview(null);
      return;
    }
    if (dry) setPreview(answer.data as Schemas["StartPreview"]);
    else navigate(`/instances/${(answer.data as Schemas["Started"]).id}`);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void send(false);
  };
  const edit = (f: (o: Overrides) => Overrides) => {
    setOverrides(f);
    setPreview(null);
  };

  return (
    <Dialog
      label="Start"
      wide
      title={
        <>
          Start <span className="mono">{name}</span>
        </>
      }
      onSubmit={submit}
      onClose={onClose}
    >
      {fields.length > 0 && (
        <fieldset>
          <legend>Params</legend>
          {fields.map((f) => (
            <ParamInput
              key={f.name}
              field={f}
              value={values[f.name] ?? ""}
              error={errorOf(f.name)}
              onChange={(v) => {
                setValues((vs) => ({ ...vs, [f.name]: v }));
                setServer(({ [f.name]: _, ...rest }) => rest);
                setPreview(null);
              }}
            />
          ))}
        </fieldset>
      )}
      {extraParams && (
        <fieldset>
          <legend>Other params (the workflow takes any)</legend>
          {extras.map(([k, v], i) => (
            <div className="kv" key={i}>
              <input placeholder="name" value={k} aria-label="param name"
                onChange={(e) => setExtras((rs) => rs.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))} />
              <input placeholder="value" value={v} aria-label="param value"
                onChange={(e) => setExtras((rs) => rs.map((r, j) => (j === i ? [r[0], e.target.value] : r)))} />
              <button type="button" className="ghost" onClick={() => setExtras((rs) => rs.filter((_, j) => j !== i))}>
                ✕
              </button>
            </div>
          ))}
          <button type="button" className="ghost" onClick={() => setExtras((rs) => [...rs, ["", ""]])}>
            + param
          </button>
        </fieldset>
      )}
      <fieldset>
        <legend>For this instance only</legend>
        <div className="row">
          <label>
            Failure strategy
            <select value={overrides.failure_strategy} aria-label="failure strategy"
              onChange={(e) => edit((o) => ({ ...o, failure_strategy: e.target.value as Overrides["failure_strategy"] }))}>
              <option value="">the workflow's ({failureStrategy})</option>
              <option value="end">end: kill the rest and fail</option>
              <option value="continue">continue: independent branches run on</option>
            </select>
          </label>
          <label>
            Priority
            <select value={overrides.priority} aria-label="priority"
              onChange={(e) => edit((o) => ({ ...o, priority: e.target.value as Overrides["priority"] }))}>
              <option value="">the workflow's ({priority})</option>
              {PRIORITIES.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </label>
        </div>
        <label>
          Worker group
          <input value={overrides.worker_group} placeholder="each task's own" aria-label="worker group"
            aria-invalid={!!errorOf("worker_group")}
            onChange={(e) => {
              const v = e.target.value;
              edit((o) => ({ ...o, worker_group: v }));
              setServer(({ worker_group: _, ...rest }) => rest);
            }} />
          {errorOf("worker_group") && <span className="error" role="alert">{errorOf("worker_group")}</span>}
        </label>
      </fieldset>
      <div className="row">
        <label>
          Start from task
          <select value={fromTask} aria-invalid={!!errorOf("from_task")}
            onChange={(e) => {
              setFromTask(e.target.value);
              setPreview(null);
            }}>
            <option value="">(all tasks)</option>
            {tasks.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
          {errorOf("from_task") && <span className="error" role="alert">{errorOf("from_task")}</span>}
        </label>
        <label>
          Scope
          <select value={scope} onChange={(e) => setScope(e.target.value)} disabled={!fromTask}>
            <option value="downstream">the task and downstream</option>
            <option value="self">the task alone</option>
            <option value="upstream">the task and upstream</option>
          </select>
        </label>
      </div>
      {general.map(([k, message]) => (
        <p className="error pre" role="alert" key={k}>
          {message}
        </p>
      ))}
      {preview && <PreviewTable preview={preview} />}
      <div className="actions">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" disabled={busy} onClick={() => void send(true)}>
          Dry run
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Starting…" : "Start"}
        </button>
      </div>
    </Dialog>
  );
}

/** One declared param's input, its rule in words, its description, and its problem. */
function ParamInput({
  field: f,
  value,
  error,
  onChange,
}: {
  field: Field;
  value: string;
  error?: string;
  onChange: (v: string) => void;
}) {
  const common = { "aria-label": f.name, "aria-invalid": !!error, "aria-describedby": `help-${f.name}` };
  let input;
  switch (f.input) {
    case "checkbox":
      input = <input type="checkbox" {...common} checked={value === "true"} onChange={(e) => onChange(String(e.target.checked))} />;
      break;
    case "select":
      input = (
        <select {...common} value={value} onChange={(e) => onChange(e.target.value)}>
          {(!f.required || value === "") && <option value="">{f.default === undefined ? "(none)" : ""}</option>}
          {f.values?.map((v) => (
            <option key={v}>{v}</option>
          ))}
        </select>
      );
      break;
    case "int":
    case "number":
      // Text, not `type=number`: a value may also be a time expression the server resolves.
      input = <input {...common} inputMode={f.input === "int" ? "numeric" : "decimal"} value={value} onChange={(e) => onChange(e.target.value)} />;
      break;
    case "date":
      input = <input {...common} placeholder="YYYY-MM-DD" value={value} onChange={(e) => onChange(e.target.value)} />;
      break;
    case "text":
      input = <input {...common} value={value} onChange={(e) => onChange(e.target.value)} />;
      break;
  }
  return (
    <label className="param" data-param={f.name}>
      <span>
        <span className="mono">{f.name}</span>
        {f.required && <span className="error"> *</span>} <span className="muted small">{f.hint}</span>
      </span>
      {input}
      <span id={`help-${f.name}`} className="muted small">
        {f.description}
      </span>
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </label>
  );
}

/** What a dry run answered: the version, the instance's strategy and priority, then the
 * tasks in the order they would run, each with its type, worker group and params. */
function PreviewTable({ preview }: { preview: Schemas["StartPreview"] }) {
  return (
    <div data-testid="dry-run">
      <p className="muted">
        Dry run: version {preview.version}, failure strategy {preview.failure_strategy}, priority {preview.priority}.
        Nothing was started.
      </p>
      <table className="grid">
        <thead>
          <tr>
            <th>Task</th>
            <th>Type</th>
            <th>Worker group</th>
            <th>Params</th>
          </tr>
        </thead>
        <tbody>
          {preview.tasks.map((t) => (
            <tr key={t.name} data-task={t.name}>
              <td className="mono">{t.name}</td>
              <td>{t.task_type}</td>
              <td>{t.worker_group ?? <span className="muted">(the master)</span>}</td>
              <td className="wrap">
                {t.params.map((p) => (
                  <div key={p.name}>
                    <span className="mono">{p.name}</span> ={" "}
                    {p.at_run_time ? <em className="muted">known at run time</em> : <span className="mono">{p.value}</span>}
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

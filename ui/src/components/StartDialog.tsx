import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { Dialog } from "./Dialog";
import { api, errorMessage } from "../api/client";

/** The start dialog: start-time params (key/value, prefilled from the definition's), a
 * start task with its scope; the failure strategy is the definition's. */
export function StartDialog({
  project,
  name,
  params,
  failureStrategy,
  tasks,
  onClose,
}: {
  project: string;
  name: string;
  params: Record<string, string>;
  failureStrategy: string;
  tasks: string[];
  onClose: () => void;
}) {
  const [rows, setRows] = useState<[string, string][]>(() => {
    const r = Object.entries(params);
    return r.length ? r : [["", ""]];
  });
  const [fromTask, setFromTask] = useState("");
  const [scope, setScope] = useState("downstream");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();

  const set = (i: number, k: 0 | 1, v: string) =>
    setRows((rs) => rs.map((r, j) => (j === i ? ((k === 0 ? [v, r[1]] : [r[0], v]) as [string, string]) : r)));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = {
      params: Object.fromEntries(rows.filter(([k]) => k.trim())),
      from_task: fromTask || undefined,
      scope: fromTask ? scope : undefined,
    };
    const { data, error, response } = await api.POST("/api/v1/workflows/{name}/start", {
      params: { path: { name }, query: { project } },
      body,
    });
    setBusy(false);
    if (!response.ok || !data) {
      setError(errorMessage(error, `HTTP ${response.status}`));
      return;
    }
    navigate(`/instances/${data.id}`);
  };

  return (
    <Dialog
      label="Start"
      title={
        <>
          Start <span className="mono">{name}</span>
        </>
      }
      onSubmit={submit}
      onClose={onClose}
    >
        <fieldset>
          <legend>Params</legend>
          {rows.map(([k, v], i) => (
            <div className="kv" key={i}>
              <input placeholder="name" value={k} onChange={(e) => set(i, 0, e.target.value)} aria-label="param name" />
              <input placeholder="value" value={v} onChange={(e) => set(i, 1, e.target.value)} aria-label="param value" />
              <button type="button" className="ghost" onClick={() => setRows((rs) => rs.filter((_, j) => j !== i))}>
                ✕
              </button>
            </div>
          ))}
          <button type="button" className="ghost" onClick={() => setRows((rs) => [...rs, ["", ""]])}>
            + param
          </button>
        </fieldset>
        <label>
          Failure strategy
          <select value={failureStrategy} disabled title="Set in the workflow file">
            <option value="end">end: kill the rest and fail</option>
            <option value="continue">continue: independent branches run on</option>
          </select>
        </label>
        <div className="row">
          <label>
            Start from task
            <select value={fromTask} onChange={(e) => setFromTask(e.target.value)}>
              <option value="">(all tasks)</option>
              {tasks.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
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
        {error && <p className="error" role="alert">{error}</p>}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Starting…" : "Start"}
          </button>
        </div>
    </Dialog>
  );
}

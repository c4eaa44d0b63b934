import type { TaskDef } from "../lib/dag";
import { typeColor } from "../lib/states";

/** A task's settings, as the definition has them (values are shown as text, escaped). */
export function TaskPanel({ task, onClose, children }: { task: TaskDef; onClose: () => void; children?: React.ReactNode }) {
  const { name, type, ...rest } = task;
  const body = (rest.command ?? rest.script) as string | undefined;
  delete rest.command;
  delete rest.script;
  return (
    <aside className="panel" data-testid="task-panel">
      <div className="panel-head">
        <span className="dot" style={{ background: typeColor(type) }} />
        <strong>{name}</strong>
        <span className="muted">{type}</span>
        <span className="spacer" />
        <button className="ghost" onClick={onClose} aria-label="Close">
          ✕
        </button>
      </div>
      {children}
      <dl className="settings">
        {Object.entries(rest).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd className="mono">{typeof v === "string" ? v : JSON.stringify(v)}</dd>
          </div>
        ))}
      </dl>
      {body !== undefined && (
        <>
          <h4>{type === "python" ? "script" : "command"}</h4>
          <pre className="code">{body}</pre>
        </>
      )}
    </aside>
  );
}

// The workflow editor's side form of one task: its name, type and dependencies, then its
// type's own fields and the common ones, each from the table of `taskForms.ts`; the
// server's problems of the task beside the field they are in.
import { useEffect, useRef, useState } from "react";
import { PALETTE, TASK_FORMS, fieldId, fieldsOf, shown, valueAt, written, type FieldDef } from "../lib/taskForms";
import type { EditorTask, PlacedProblem, Problem } from "../lib/workflowDoc";
import { typeColor } from "../lib/states";

/** A text input (or area) with its own draft while focused: the file's value comes back
 * when it is left, so that a value the file prints otherwise does not move under the caret. */
export function Draft({
  value,
  onChange,
  onCommit,
  multiline,
  ...rest
}: {
  value: string;
  onChange?: (s: string) => void;
  onCommit?: (s: string) => void;
  multiline?: boolean;
  id: string;
  "aria-invalid"?: boolean;
  className?: string;
  rows?: number;
  type?: string;
}) {
  const [draft, setDraft] = useState(value);
  const focused = useRef(false);
  useEffect(() => {
    if (!focused.current) setDraft(value);
  }, [value]);
  const props = {
    ...rest,
    value: draft,
    onFocus: () => (focused.current = true),
    onBlur: () => {
      focused.current = false;
      if (onCommit && draft !== value) onCommit(draft);
      else setDraft(value);
    },
    onChange: (e: { target: { value: string } }) => {
      setDraft(e.target.value);
      onChange?.(e.target.value);
    },
  };
  if (multiline) return <textarea {...props} spellCheck={false} />;
  return (
    <input
      {...props}
      onKeyDown={(e) => {
        if (e.key === "Enter" && onCommit) (e.target as HTMLInputElement).blur();
      }}
    />
  );
}

function Field({
  f,
  value,
  problems,
  onSet,
}: {
  f: FieldDef;
  value: unknown;
  problems: Problem[];
  onSet: (v: unknown) => void;
}) {
  const [note, setNote] = useState<string | null>(null);
  const id = fieldId(f.key);
  const change = (s: string) => {
    const w = written(f, s);
    if ("error" in w) setNote(w.error);
    else {
      setNote(null);
      onSet(w.value);
    }
  };
  const bad = problems.length > 0;
  const text = shown(f, value);
  const multiline = f.kind === "code" || f.kind === "list" || f.kind === "map" || f.kind === "yaml";
  return (
    <div className={`field${bad ? " invalid" : ""}`} data-testid={id}>
      <label htmlFor={id}>{f.label}</label>
      {f.kind === "flag" ? (
        <input
          id={id}
          type="checkbox"
          checked={text === "true"}
          onChange={(e) => change(e.target.checked ? "true" : "")}
          aria-invalid={bad}
        />
      ) : f.kind === "select" ? (
        <select id={id} value={text} onChange={(e) => change(e.target.value)} aria-invalid={bad}>
          <option value="">(default)</option>
          {f.options!.map((o) => (
            <option key={o}>{o}</option>
          ))}
          {text && !f.options!.includes(text) && <option>{text}</option>}
        </select>
      ) : (
        <Draft
          id={id}
          value={text}
          onChange={change}
          multiline={multiline}
          rows={f.kind === "code" ? Math.min(12, Math.max(3, text.split("\n").length + 1)) : 3}
          className={f.kind === "code" || f.kind === "yaml" ? "mono" : undefined}
          aria-invalid={bad}
        />
      )}
      {f.help && <span className="muted small">{f.help}</span>}
      {note && <span className="error small">{note}</span>}
      {problems.map((p, i) => (
        <span key={i} className="error small" role="alert">
          {p.message}
        </span>
      ))}
    </div>
  );
}

/** The form of `task`; every change is one of the callbacks (each an edit of the text). */
export function TaskForm({
  task,
  others,
  problems,
  readOnly,
  onRename,
  onType,
  onDepends,
  onField,
  onRemove,
  onClose,
}: {
  task: EditorTask;
  others: string[];
  problems: PlacedProblem[];
  readOnly: boolean;
  onRename: (to: string) => void;
  onType: (type: string) => void;
  onDepends: (from: string, on: boolean) => void;
  onField: (key: string, value: unknown) => void;
  onRemove: () => void;
  onClose: () => void;
}) {
  const at = (key: string) => problems.filter((p) => p.field === key);
  const known = new Set(["name", "type", "depends_on", ...fieldsOf(task.type).map((f) => f.key)]);
  const general = problems.filter((p) => !p.field || !known.has(p.field));
  return (
    <aside className="panel task-form" data-testid="task-form">
      <div className="panel-head">
        <span className="dot" style={{ background: typeColor(task.type) }} />
        <strong>{task.name}</strong>
        <span className="muted">{task.type}</span>
        <span className="spacer" />
        <button type="button" className="ghost" onClick={onRemove} disabled={readOnly} data-testid="remove-task">
          Remove
        </button>
        <button type="button" className="ghost" onClick={onClose} aria-label="Close">
          ✕
        </button>
      </div>
      {readOnly && <p className="error small">The YAML has syntax errors: fix them in the YAML tab to edit here.</p>}
      {general.map((p, i) => (
        <p key={i} className="error small" role="alert" data-testid="task-problem">
          {p.line ? `line ${p.line}: ` : ""}
          {p.message}
        </p>
      ))}
      <fieldset disabled={readOnly} className="form-fields">
        <div className={`field${at("name").length ? " invalid" : ""}`}>
          <label htmlFor="field-name">Name</label>
          <Draft id="field-name" value={task.name} onCommit={(s) => s.trim() && onRename(s.trim())} />
          {at("name").map((p, i) => (
            <span key={i} className="error small" role="alert">
              {p.message}
            </span>
          ))}
        </div>
        <div className="field">
          <label htmlFor="field-type">Type</label>
          <select id="field-type" value={task.type} onChange={(e) => onType(e.target.value)}>
            {PALETTE.map((t) => (
              <option key={t} value={t}>
                {TASK_FORMS[t]!.label}
              </option>
            ))}
            {!PALETTE.includes(task.type) && <option value={task.type}>{task.type}</option>}
          </select>
        </div>
        <div className={`field${at("depends_on").length ? " invalid" : ""}`} data-testid="field-depends_on">
          <span className="label">Depends on</span>
          {others.length === 0 && <span className="muted small">No other task.</span>}
          <div className="checks">
            {others.map((o) => (
              <label key={o} className="toggle">
                <input type="checkbox" checked={task.depends_on.includes(o)} onChange={(e) => onDepends(o, e.target.checked)} />
                <span className="mono">{o}</span>
              </label>
            ))}
          </div>
          {at("depends_on").map((p, i) => (
            <span key={i} className="error small" role="alert">
              {p.message}
            </span>
          ))}
        </div>
        {fieldsOf(task.type).map((f) => (
          <Field key={`${task.name}/${f.key}`} f={f} value={valueAt(task.fields, f.key)} problems={at(f.key)} onSet={(v) => onField(f.key, v)} />
        ))}
      </fieldset>
    </aside>
  );
}

/** The workflow's own fields, shown while no task is selected. */
export function WorkflowForm({
  fields,
  problems,
  readOnly,
  onField,
}: {
  fields: Record<string, unknown>;
  problems: PlacedProblem[];
  readOnly: boolean;
  onField: (key: string, value: string | undefined) => void;
}) {
  const text = (k: string) => (fields[k] === undefined || fields[k] === null ? "" : String(fields[k]));
  return (
    <aside className="panel task-form" data-testid="workflow-form">
      <div className="panel-head">
        <strong>Workflow</strong>
        <span className="muted small">select a task to edit it</span>
      </div>
      {problems.map((p, i) => (
        <p key={i} className="error small" role="alert">
          {p.line ? `line ${p.line}: ` : ""}
          {p.message}
        </p>
      ))}
      <fieldset disabled={readOnly} className="form-fields">
        <div className="field">
          <label htmlFor="workflow-name">Name</label>
          <Draft id="workflow-name" value={text("name")} onCommit={(s) => onField("name", s.trim() || undefined)} />
        </div>
        <div className="field">
          <label htmlFor="workflow-description">Description</label>
          <Draft id="workflow-description" multiline rows={3} value={text("description")} onCommit={(s) => onField("description", s || undefined)} />
        </div>
        <div className="field">
          <label htmlFor="workflow-failure">Failure strategy</label>
          <select id="workflow-failure" value={text("failure_strategy")} onChange={(e) => onField("failure_strategy", e.target.value || undefined)}>
            <option value="">(default: end)</option>
            <option value="end">end: a failure stops the rest</option>
            <option value="continue">continue: the other branches go on</option>
          </select>
        </div>
        <div className="field">
          <span className="label">Project</span>
          <span className="mono">{text("project") || "default"}</span>
        </div>
      </fieldset>
    </aside>
  );
}

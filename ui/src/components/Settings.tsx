// What the project's settings pages (data sources, secrets, alerts) share: their title and
// tabs, their paged lists, a delete that asks first (and its error), a form field with its
// problem, a form's other problems and buttons, and the tests of objects and their outcomes.
import { useState, type ReactNode } from "react";
import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { Link, NavLink } from "react-router";
import { errorMessage } from "../api/client";
import { generalErrors, type FieldErrors } from "../lib/forms";

/** The title of a settings page and the tabs to the other two. */
export function SettingsHead({ project, title, children }: { project: string; title: string; children?: ReactNode }) {
  const base = `/projects/${encodeURIComponent(project)}`;
  return (
    <>
      <div className="titlebar">
        <h2>
          <Link to={base}>{project}</Link> / {title}
        </h2>
        <span className="spacer" />
        {children}
      </div>
      <nav className="tabs" aria-label="settings">
        <NavLink className={({ isActive }) => (isActive ? "tab on" : "tab")} to={`${base}/datasources`}>
          Data sources
        </NavLink>
        <NavLink className={({ isActive }) => (isActive ? "tab on" : "tab")} to={`${base}/secrets`}>
          Secrets
        </NavLink>
        <NavLink className={({ isActive }) => (isActive ? "tab on" : "tab")} to={`${base}/alerts`}>
          Alerts
        </NavLink>
      </nav>
    </>
  );
}

/** A delete button that asks before it sends: the first press shows "Delete NAME?" with
 * Delete and Cancel; `onConfirm` runs only on the second. */
export function ConfirmDelete({ what, onConfirm }: { what: string; onConfirm: () => Promise<void> }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking)
    return (
      <button type="button" className="ghost" onClick={() => setAsking(true)} aria-label={`Delete ${what}`}>
        delete
      </button>
    );
  return (
    <span className="confirm" role="group" aria-label={`Delete ${what}?`}>
      Delete {what}?{" "}
      <button
        type="button"
        className="danger"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          await onConfirm();
          setBusy(false);
          setAsking(false);
        }}
      >
        Delete
      </button>
      <button type="button" className="ghost" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** A labelled input with its help and its problem (the form's own check or the server's);
 * `field` is its name in the API's body. */
export function Field({
  field,
  label,
  help,
  error,
  required,
  children,
}: {
  field: string;
  label: string;
  help?: string;
  error?: string;
  required?: boolean;
  children: ReactNode;
}) {
  return (
    <label className="param" data-field={field}>
      <span>
        {label}
        {required && <span className="error"> *</span>}
      </span>
      {children}
      {help && <span className="muted small">{help}</span>}
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </label>
  );
}

/** What a test answered: ok, or what failed in the server's words. */
export interface TestOutcome {
  ok: boolean;
  message: string;
}

/** A test's outcome, next to what was tested. */
export function TestResult({ outcome }: { outcome: TestOutcome | "testing" | undefined }) {
  if (!outcome) return null;
  if (outcome === "testing") return <span className="muted">testing…</span>;
  return (
    <span className={outcome.ok ? "ok" : "error"} data-testid="test-result" data-ok={outcome.ok}>
      {outcome.ok ? "✓ " : "✗ "}
      {outcome.message}
    </span>
  );
}

/** The problems of a form that none of its fields shows. */
export function GeneralErrors({ errors, shown }: { errors: FieldErrors; shown: string[] }) {
  return (
    <>
      {generalErrors(errors, shown).map(([k, message]) => (
        <p className="error pre" role="alert" key={k}>
          {message}
        </p>
      ))}
    </>
  );
}

/** A dialog's Cancel and its submit button (`verb`, `busyVerb` while it is sent). */
export function DialogButtons({ busy, verb, busyVerb, onCancel }: { busy: boolean; verb: string; busyVerb: string; onCancel: () => void }) {
  return (
    <div className="actions">
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? busyVerb : verb}
      </button>
    </div>
  );
}

/** An error line of a page (a delete refused), or nothing. */
export function ErrorLine({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

/** The outcome of each object's test by name, and `run(name)`, which sends one test and
 * keeps what it answered (an error answer as a failed outcome). */
export function useTests(send: (name: string) => Promise<{ data?: TestOutcome; error?: unknown; response: Response }>) {
  const [tests, setTests] = useState<Record<string, TestOutcome | "testing">>({});
  const run = async (name: string) => {
    setTests((t) => ({ ...t, [name]: "testing" }));
    const answer = await send(name);
    const outcome = answer.data ?? { ok: false, message: errorMessage(answer.error, `HTTP ${answer.response.status}`) };
    setTests((t) => ({ ...t, [name]: outcome }));
  };
  return [tests, run] as const;
}

/** A list's delete: `remove(key)` sends it, keeps its error in words for an ErrorLine (null
 * when it went through) and refreshes the list under `queryKey` either way. */
export function useRemove<K>(queryKey: unknown[], send: (key: K) => Promise<{ error?: unknown; response: Response }>) {
  const queries = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const remove = async (key: K) => {
    setError(answerError(await send(key)));
    await queries.invalidateQueries({ queryKey });
  };
  return [error, remove] as const;
}

/** The actions of a row that can be tested and deleted (a data source, an alert channel):
 * test for operators, a delete that asks first for editors, and the last test's outcome. */
export function TestDeleteActions({
  name,
  operator,
  editor,
  outcome,
  onTest,
  onDelete,
}: {
  name: string;
  operator: boolean;
  editor: boolean;
  outcome: TestOutcome | "testing" | undefined;
  onTest: () => void;
  onDelete: () => Promise<void>;
}) {
  return (
    <>
      <span className="row-actions">
        {operator && (
          <button type="button" onClick={onTest} disabled={outcome === "testing"} data-testid="test">
            test
          </button>
        )}
        {editor && <ConfirmDelete what={name} onConfirm={onDelete} />}
      </span>
      <div className="test-outcome">
        <TestResult outcome={outcome} />
      </div>
    </>
  );
}

/** A change's answer: its error in words (null when it went through), for an ErrorLine. */
export function answerError(answer: { error?: unknown; response: Response }): string | null {
  return answer.response.ok ? null : errorMessage(answer.error, `HTTP ${answer.response.status}`);
}

/** A project's list read by cursor, a page at a time (`More →`): the items so far. */
export function usePaged<P extends { next_cursor?: string | null }, T>(
  key: unknown[],
  fetchPage: (cursor: string | undefined) => Promise<P>,
  items: (page: P) => T[],
) {
  const pages = useInfiniteQuery({
    queryKey: key,
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => fetchPage(pageParam),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  return { pages, list: pages.data?.pages.flatMap(items) ?? [] };
}

import { useState, type FormEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { Dialog } from "./Dialog";
import { api, data, errorMessage } from "../api/client";
import { fireText } from "../lib/schedule";
import { firesOnDays, formDays, previousDay, startOrder, type BackfillForm } from "../lib/backfill";

const SHOWN = 12;

/** The backfill dialog: a date range or a list, parallel, reverse; a preview of the
 * instances it makes (the days for a daily workflow, the cron's fires on those days from
 * the server's schedule preview) before it is sent; then the backfill's own page. */
export function BackfillDialog({
  project,
  name,
  cron,
  onClose,
}: {
  project: string;
  name: string;
  /** The workflow's cron expression, if its schedule has one. */
  cron?: string;
  onClose: () => void;
}) {
  const today = new Date().toISOString().slice(0, 10);
  const [mode, setMode] = useState<"range" | "list">("range");
  const [from, setFrom] = useState(previousDay(previousDay(today)));
  const [to, setTo] = useState(today);
  const [text, setText] = useState("");
  const [parallel, setParallel] = useState(1);
  const [reverse, setReverse] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();

  const form: BackfillForm = mode === "range" ? { mode, from, to } : { mode, text };
  const checked = formDays(form);
  const days = "days" in checked ? checked.days : [];
  // A cron workflow: its fires on those days, from the server's preview (from the day
  // before the first, so that a fire at midnight is kept).
  const fires = useQuery({
    queryKey: ["backfill-preview", project, name, days[0], days[days.length - 1]],
    enabled: !!cron && days.length > 0,
    queryFn: async () =>
      data(
        await api.GET("/api/v1/workflows/{name}/schedule/preview", {
          params: { path: { name }, query: { project, after: previousDay(days[0] ?? ""), count: 1000 } },
        }),
      ).fires,
  });
  const times = cron ? firesOnDays(fires.data ?? [], days) : days;
  const lastFire = fires.data?.[fires.data.length - 1];
  const more = !!cron && fires.data?.length === 1000 && !!lastFire && lastFire.slice(0, 10) <= (days[days.length - 1] ?? "");
  const ordered = startOrder(times, reverse);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body =
      mode === "range" ? { from, to, parallel, reverse } : { dates: days, parallel, reverse };
    const answer = await api.POST("/api/v1/workflows/{name}/backfill", {
      params: { path: { name }, query: { project } },
      body,
    });
    setBusy(false);
    if (!answer.response.ok || !answer.data) {
      setError(errorMessage(answer.error, `HTTP ${answer.response.status}`));
      return;
    }
    navigate(`/backfills/${answer.data.id}`);
  };

  return (
    <Dialog
      label="Backfill"
      title={
        <>
          Backfill <span className="mono">{name}</span>
        </>
      }
      onSubmit={submit}
      onClose={onClose}
    >
        <div className="row" role="radiogroup" aria-label="Dates">
          <label className="inline">
            <input type="radio" name="mode" checked={mode === "range"} onChange={() => setMode("range")} /> a range
          </label>
          <label className="inline">
            <input type="radio" name="mode" checked={mode === "list"} onChange={() => setMode("list")} /> a list of dates
          </label>
        </div>
        {mode === "range" ? (
          <div className="row">
            <label>
              From
              <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} data-testid="backfill-from" />
            </label>
            <label>
              To (included)
              <input type="date" value={to} onChange={(e) => setTo(e.target.value)} data-testid="backfill-to" />
            </label>
          </div>
        ) : (
          <label>
            Dates (YYYY-MM-DD, one a line or comma-separated)
            <textarea rows={3} value={text} onChange={(e) => setText(e.target.value)} data-testid="backfill-dates" />
          </label>
        )}
        <div className="row">
          <label>
            Parallel (instances at a time)
            <input type="number" min={1} value={parallel} onChange={(e) => setParallel(Math.max(1, Number(e.target.value) || 1))} />
          </label>
          <label className="inline">
            <input type="checkbox" checked={reverse} onChange={(e) => setReverse(e.target.checked)} /> newest first
          </label>
        </div>
        <div className="preview" data-testid="backfill-preview" aria-live="polite">
          {"error" in checked ? (
            <span className="error">{checked.error}</span>
          ) : cron && fires.isLoading ? (
            <span className="muted">Reading the schedule's fires…</span>
          ) : fires.error ? (
            <span className="error">{fires.error.message}</span>
          ) : (
            <>
              <strong data-testid="backfill-count">
                {more ? "at least " : ""}
                {times.length} instance{times.length === 1 ? "" : "s"}
              </strong>
              <span className="muted">
                {" "}
                {cron ? `(cron ${cron}, in the schedule's zone)` : "(one a day)"}, {parallel} at a time, in this order:
              </span>
              <ol className="dates">
                {ordered.slice(0, SHOWN).map((t) => (
                  <li key={t} className="mono">
                    {cron ? fireText(t) : t}
                  </li>
                ))}
                {ordered.length > SHOWN && <li className="muted">… {ordered.length - SHOWN} more</li>}
              </ol>
            </>
          )}
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || "error" in checked || times.length === 0} data-testid="backfill-submit">
            {busy ? "Sending…" : `Backfill ${times.length}`}
          </button>
        </div>
    </Dialog>
  );
}

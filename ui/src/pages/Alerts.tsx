import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { api, data, type Schemas } from "../api/client";
import { ChannelDialog, RuleDialog } from "../components/AlertDialogs";
import { OlderPager } from "../components/OlderPager";
import { ConfirmDelete, ErrorLine, SettingsHead, TestDeleteActions, usePaged, useRemove, useTests, type TestOutcome } from "../components/Settings";
import { can, useMe } from "../lib/auth";
import { channelSummary, deliveryTone } from "../lib/channels";
import { time } from "../lib/format";

const TABS = [
  ["channels", "Channels"],
  ["rules", "Rules"],
  ["history", "Delivery history"],
] as const;
type Tab = (typeof TABS)[number][0];

/** `/projects/:project/alerts?tab=channels|rules|history&workflow=`: the project's alert
 * channels (operators test one, editors create and delete), its rules (editors create and
 * delete) and the deliveries made, each with its attempts and their errors, a page at a
 * time. */
export default function AlertsPage() {
  const { project = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const tab: Tab = TABS.find(([t]) => t === params.get("tab"))?.[0] ?? "channels";
  const show = (t: Tab) => setParams(t === "channels" ? {} : { tab: t }, { replace: true });
  return (
    <section className="page">
      <SettingsHead project={project} title="alerts" />
      <div className="tabs" role="tablist">
        {TABS.map(([t, label]) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "tab on" : "tab"} onClick={() => show(t)}>
            {label}
          </button>
        ))}
      </div>
      {tab === "channels" && <Channels project={project} />}
      {tab === "rules" && <Rules project={project} />}
      {tab === "history" && <History project={project} workflow={params.get("workflow") ?? ""} />}
    </section>
  );
}

/** The project's channels, by name a page at a time. */
function useChannels(project: string) {
  return usePaged(
    ["alert-channels", project],
    async (cursor) => data(await api.GET("/api/v1/alerts/channels", { params: { query: { project, cursor, limit: 100 } } })),
    (p) => p.channels,
  );
}

function Channels({ project }: { project: string }) {
  const me = useMe();
  const editor = can(me.data, project, "editor");
  const operator = can(me.data, project, "operator");
  const { pages, list } = useChannels(project);
  const [creating, setCreating] = useState(false);
  const path = (name: string) => ({ params: { path: { name }, query: { project } } });
  const [tests, test] = useTests((name) => api.POST("/api/v1/alerts/channels/{name}/test", path(name)));
  const [error, remove] = useRemove(["alert-channels", project], (name: string) => api.DELETE("/api/v1/alerts/channels/{name}", path(name)));
  return (
    <>
      <div className="titlebar">
        <span className="muted">Where messages go. Secrets (webhook URLs with tokens, keys, passwords) are sealed and never shown.</span>
        <span className="spacer" />
        {editor && (
          <button className="primary" onClick={() => setCreating(true)} data-testid="new-channel">
            + New channel
          </button>
        )}
      </div>
      {pages.error && <p className="error">{pages.error.message}</p>}
      <ErrorLine error={error} />
      <table className="grid" data-testid="channels">
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Settings</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((c) => (
            <ChannelRow key={c.name} c={c} operator={operator} editor={editor} outcome={tests[c.name]} onTest={() => void test(c.name)} onDelete={() => remove(c.name)} />
          ))}
          {pages.data && list.length === 0 && (
            <tr>
              <td colSpan={4} className="muted">
                This project has no alert channel.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <OlderPager pages={pages} label="More →" />
      {creating && <ChannelDialog project={project} onClose={() => setCreating(false)} />}
    </>
  );
}

function ChannelRow({
  c,
  operator,
  editor,
  outcome,
  onTest,
  onDelete,
}: {
  c: Schemas["AlertChannel"];
  operator: boolean;
  editor: boolean;
  outcome: TestOutcome | "testing" | undefined;
  onTest: () => void;
  onDelete: () => Promise<void>;
}) {
  return (
    <tr data-channel={c.name}>
      <td className="mono">{c.name}</td>
      <td>{c.type}</td>
      <td className="wrap">{channelSummary(c)}</td>
      <td>
        <TestDeleteActions name={c.name} operator={operator} editor={editor} outcome={outcome} onTest={onTest} onDelete={onDelete} />
      </td>
    </tr>
  );
}

function Rules({ project }: { project: string }) {
  const me = useMe();
  const editor = can(me.data, project, "editor");
  const channels = useChannels(project);
  const [creating, setCreating] = useState(false);
  const { pages, list } = usePaged(
    ["alert-rules", project],
    async (cursor) => data(await api.GET("/api/v1/alerts/rules", { params: { query: { project, cursor, limit: 100 } } })),
    (p) => p.rules,
  );
  const channelNames = channels.list.map((c) => c.name);
  const [error, remove] = useRemove(["alert-rules", project], (id: number) => api.DELETE("/api/v1/alerts/rules/{id}", { params: { path: { id }, query: { project } } }));
  return (
    <>
      <div className="titlebar">
        <span className="muted">Which events of the project go to which channel (a workflow file's own <code>alerts:</code> are kept with the file).</span>
        <span className="spacer" />
        {editor && (
          <button className="primary" onClick={() => setCreating(true)} disabled={!channelNames.length} title={channelNames.length ? undefined : "create a channel first"} data-testid="new-rule">
            + New rule
          </button>
        )}
      </div>
      {pages.error && <p className="error">{pages.error.message}</p>}
      <ErrorLine error={error} />
      <table className="grid" data-testid="rules">
        <thead>
          <tr>
            <th className="num">Id</th>
            <th>When</th>
            <th>Channel</th>
            <th>Workflow</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((r) => (
            <RuleRow key={r.id} rule={r} editor={editor} onDelete={() => remove(r.id)} />
          ))}
          {pages.data && list.length === 0 && (
            <tr>
              <td colSpan={6} className="muted">
                This project has no alert rule.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <OlderPager pages={pages} label="More →" />
      {creating && <RuleDialog project={project} channels={channelNames} onClose={() => setCreating(false)} />}
    </>
  );
}

function RuleRow({ rule: r, editor, onDelete }: { rule: Schemas["AlertRule"]; editor: boolean; onDelete: () => Promise<void> }) {
  return (
    <tr data-rule={r.id}>
      <td className="num">{r.id}</td>
      <td className="wrap mono">{r.on.join(", ")}</td>
      <td className="mono">{r.channel}</td>
      <td>{r.workflow ?? <span className="muted">every workflow</span>}</td>
      <td>{time(r.created_at)}</td>
      <td>{editor && <ConfirmDelete what={`rule ${r.id}`} onConfirm={onDelete} />}</td>
    </tr>
  );
}

/** The deliveries, newest first, a page at a time: each with its attempts and errors. */
function History({ project, workflow }: { project: string; workflow: string }) {
  const [, setParams] = useSearchParams();
  const [draft, setDraft] = useState(workflow);
  const { pages, list } = usePaged(
    ["alert-deliveries", project, workflow],
    async (cursor) => data(await api.GET("/api/v1/alerts/deliveries", { params: { query: { project, workflow: workflow || undefined, cursor, limit: 50 } } })),
    (p) => p.deliveries,
  );
  return (
    <>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setParams(draft.trim() ? { tab: "history", workflow: draft.trim() } : { tab: "history" }, { replace: true });
        }}
      >
        <label className="inline">
          Workflow
          <input value={draft} onChange={(e) => setDraft(e.target.value)} size={16} aria-label="workflow filter" />
        </label>
        <button type="submit">Filter</button>
        <button type="button" onClick={() => void pages.refetch()}>
          Refresh
        </button>
      </form>
      {pages.error && <p className="error">{pages.error.message}</p>}
      <table className="grid" data-testid="deliveries">
        <thead>
          <tr>
            <th className="num">Id</th>
            <th>Matched</th>
            <th>Event</th>
            <th>Instance</th>
            <th>Rule</th>
            <th>Channel</th>
            <th>State</th>
            <th>Attempts</th>
          </tr>
        </thead>
        <tbody>
          {list.map((d) => (
            <DeliveryRow key={d.id} d={d} />
          ))}
          {pages.data && list.length === 0 && (
            <tr>
              <td colSpan={8} className="muted">
                No alert was delivered{workflow ? ` for ${workflow}` : ""}.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <OlderPager pages={pages} />
    </>
  );
}

function DeliveryRow({ d }: { d: Schemas["AlertDelivery"] }) {
  return (
    <tr data-delivery={d.id}>
      <td className="num">{d.id}</td>
      <td>{time(d.created_at)}</td>
      <td className="mono">
        {d.kind}
        <div className="muted small">event {d.event_id}</div>
      </td>
      <td>
        {d.instance_id ? <Link to={`/instances/${d.instance_id}`}>#{d.instance_id}</Link> : "—"}
        {d.workflow && <div className="muted small">{d.workflow}</div>}
      </td>
      <td>{d.rule}</td>
      <td className="mono">{d.channel}</td>
      <td>
        <span className={`badge tone-${deliveryTone(d.state)}`} data-state={d.state}>
          {d.state}
        </span>
        {d.next_attempt_at && <div className="muted small">next {time(d.next_attempt_at)}</div>}
      </td>
      <td className="wrap">
        <ol className="attempts">
          {d.attempts.map((a) => (
            <li key={a.n} className={a.ok ? "ok" : "error"}>
              {time(a.at)}: {a.ok ? "sent" : a.error ?? "failed"}
            </li>
          ))}
        </ol>
        {d.attempts.length === 0 && <span className="muted">none yet</span>}
      </td>
    </tr>
  );
}

// The alert page's two create forms: a channel (the fields of its type; the secret in a
// password field, sent once) and a project rule (events, channel, optional workflow).
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, data } from "../api/client";
import { Dialog } from "./Dialog";
import { DialogButtons, Field, GeneralErrors } from "./Settings";
import {
  ALERT_ON,
  ALERT_ON_WORDS,
  CHANNEL_FORMS,
  CHANNEL_TYPES,
  channelBody,
  channelErrors,
  ruleBody,
  ruleErrors,
  type AlertOn,
  type ChannelForm,
  type FieldSpec,
  type RuleForm,
} from "../lib/channels";
import { useFieldForm } from "../lib/useFieldForm";

/** Creates a channel of the project. */
export function ChannelDialog({ project, onClose }: { project: string; onClose: () => void }) {
  const queries = useQueryClient();
  const { form, server, busy, errorOf, edit, submit } = useFieldForm<ChannelForm>({ name: "", type: "webhook", values: {} }, channelErrors);
  const create = submit(
    (f) => api.POST("/api/v1/alerts/channels", { params: { query: { project } }, body: channelBody(f) }),
    async () => {
      await queries.invalidateQueries({ queryKey: ["alert-channels", project] });
      onClose();
    },
  );
  const specs = CHANNEL_FORMS[form.type];
  return (
    <Dialog label="New channel" title="New alert channel" onSubmit={(e) => void create(e)} onClose={onClose}>
      <div className="row">
        <Field field="name" label="Name" required error={errorOf("name")}>
          <input value={form.name} onChange={(e) => edit({ name: e.target.value })} aria-label="name" aria-invalid={!!errorOf("name")} autoFocus />
        </Field>
        <Field field="type" label="Type" error={errorOf("type")}>
          {/* Another type takes other fields: what was typed (a secret too) is dropped. */}
          <select value={form.type} onChange={(e) => edit({ type: e.target.value as ChannelForm["type"], values: {} })} aria-label="type">
            {CHANNEL_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </Field>
      </div>
      {specs.map((spec) => (
        <SettingInput key={spec.key} spec={spec} value={form.values[spec.key] ?? ""} error={errorOf(spec.key)} onChange={(v) => edit({ values: { ...form.values, [spec.key]: v } })} />
      ))}
      <GeneralErrors errors={server} shown={["name", "type", ...specs.map((s) => s.key)]} />
      <DialogButtons busy={busy} verb="Create" busyVerb="Creating…" onCancel={onClose} />
    </Dialog>
  );
}

/** One setting's input, as its spec asks (a secret: a password field, never filled back). */
function SettingInput({ spec, value, error, onChange }: { spec: FieldSpec; value: string; error?: string; onChange: (v: string) => void }) {
  const common = { "aria-label": spec.label, "aria-invalid": !!error, placeholder: spec.placeholder };
  let input;
  switch (spec.input) {
    case "password":
      input = <input type="password" autoComplete="new-password" {...common} value={value} onChange={(e) => onChange(e.target.value)} />;
      break;
    case "textarea":
      input = <textarea rows={3} spellCheck={false} {...common} value={value} onChange={(e) => onChange(e.target.value)} />;
      break;
    case "select":
      input = (
        <select {...common} value={value} onChange={(e) => onChange(e.target.value)}>
          <option value="">(default: {spec.options?.[0]})</option>
          {spec.options?.map((o) => (
            <option key={o}>{o}</option>
          ))}
        </select>
      );
      break;
    case "number":
      input = <input inputMode="numeric" {...common} value={value} onChange={(e) => onChange(e.target.value)} />;
      break;
    case "text":
      input = <input spellCheck={false} autoComplete="off" {...common} value={value} onChange={(e) => onChange(e.target.value)} />;
      break;
  }
  return (
    <Field field={spec.key} label={spec.label} required={spec.required} help={spec.help} error={error}>
      {input}
    </Field>
  );
}

/** Creates a project rule: which events go to which channel, for one workflow or all. */
export function RuleDialog({ project, channels, onClose }: { project: string; channels: string[]; onClose: () => void }) {
  const queries = useQueryClient();
  const { form, server, busy, errorOf, edit, submit } = useFieldForm<RuleForm>({ on: [], channel: channels[0] ?? "", workflow: "" }, ruleErrors);
  const workflows = useQuery({
    queryKey: ["workflow-names", project],
    queryFn: async () => data(await api.GET("/api/v1/workflows", { params: { query: { project, limit: 1000 } } })).workflows.map((w) => w.name),
  });
  const create = submit(
    (f) => api.POST("/api/v1/alerts/rules", { params: { query: { project } }, body: ruleBody(f) }),
    async () => {
      await queries.invalidateQueries({ queryKey: ["alert-rules", project] });
      onClose();
    },
  );
  const toggle = (kind: AlertOn, on: boolean) => edit({ on: on ? [...form.on, kind] : form.on.filter((k) => k !== kind) });
  return (
    <Dialog label="New rule" title="New alert rule" onSubmit={(e) => void create(e)} onClose={onClose}>
      <EventChecks on={form.on} error={errorOf("on")} onToggle={toggle} />
      <Field field="channel" label="Send to channel" required error={errorOf("channel")}>
        <select value={form.channel} onChange={(e) => edit({ channel: e.target.value })} aria-label="channel">
          {channels.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </Field>
      <Field field="workflow" label="Only for workflow" help="empty: every workflow of the project" error={errorOf("workflow")}>
        <input list="rule-workflows" value={form.workflow} onChange={(e) => edit({ workflow: e.target.value })} aria-label="workflow" autoComplete="off" />
        <datalist id="rule-workflows">
          {workflows.data?.map((w) => (
            <option key={w} value={w} />
          ))}
        </datalist>
      </Field>
      <GeneralErrors errors={server} shown={["on", "channel", "workflow"]} />
      <DialogButtons busy={busy} verb="Create" busyVerb="Creating…" onCancel={onClose} />
    </Dialog>
  );
}

/** The event kinds a rule may name, each a checkbox with its words, and the field's problem. */
function EventChecks({ on, error, onToggle }: { on: AlertOn[]; error?: string; onToggle: (kind: AlertOn, on: boolean) => void }) {
  return (
    <fieldset data-testid="rule-events" data-field="on" aria-invalid={!!error}>
      <legend>When</legend>
      {ALERT_ON.map((k) => (
        <label className="inline" key={k}>
          <input type="checkbox" checked={on.includes(k)} onChange={(e) => onToggle(k, e.target.checked)} aria-label={k} />
          <span className="mono">{k}</span> <span className="muted small">{ALERT_ON_WORDS[k]}</span>
        </label>
      ))}
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </fieldset>
  );
}

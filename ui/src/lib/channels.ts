// The alert forms: a channel's fields for each type (what `baton-alerts` takes: the settings
// and the write-only secret), their checks before anything is sent (the server stays the
// judge), the bodies of `POST /alerts/channels` and `POST /alerts/rules`, and the event kinds
// a rule may name.
import type { Schemas } from "../api/client";
import { nameProblem, type FieldErrors } from "./forms";

/** A channel's type, as the API names it. */
export type ChannelType = Schemas["AlertChannelType"];
/** An event kind a rule may name, as the API names it. */
export type AlertOn = Schemas["AlertRule"]["on"][number];

/** Each event kind a rule may name, in words (a kind the API adds fails to compile here). */
export const ALERT_ON_WORDS: Record<AlertOn, string> = {
  instance_failed: "an instance failed",
  instance_succeeded: "an instance succeeded",
  instance_stopped: "an instance was stopped",
  task_failed: "a task failed (no retry left)",
  task_retrying: "a task failed and will retry",
  task_timeout: "a task ran past its timeout",
  task_failover: "a task's worker or master was lost",
  instance_adopted: "another master took an instance over",
  schedule_misfired: "a schedule missed its fire",
  task_restarted: "a service was restarted",
};

/** The event kinds, in the API's order. */
export const ALERT_ON = Object.keys(ALERT_ON_WORDS) as AlertOn[];

/** A field of the channel form, by its name in the API's body (`settings.url`, `secret`). */
export type ChannelField =
  | "settings.url"
  | "settings.template"
  | "settings.smtp_host"
  | "settings.smtp_port"
  | "settings.smtp_tls"
  | "settings.username"
  | "settings.from"
  | "settings.to"
  | "settings.script"
  | "settings.timeout_ms"
  | "secret";

/** How one field is asked for. */
export interface FieldSpec {
  key: ChannelField;
  label: string;
  /** `password`: write-only, never shown back. */
  input: "text" | "password" | "textarea" | "number" | "select";
  required?: boolean;
  placeholder?: string;
  help?: string;
  options?: readonly string[];
}

const TIMEOUT: FieldSpec = {
  key: "settings.timeout_ms",
  label: "Timeout (seconds)",
  input: "number",
  placeholder: "10",
  help: "how long a send may take, at most 60",
};

const chat = (what: string, example: string): FieldSpec[] => [
  { key: "secret", label: `${what} webhook URL`, input: "password", required: true, placeholder: example, help: "it holds the token: kept sealed, never shown again" },
  TIMEOUT,
];

/** The fields of each type, in the form's order. */
export const CHANNEL_FORMS: Record<ChannelType, FieldSpec[]> = {
  webhook: [
    { key: "settings.url", label: "URL", input: "text", placeholder: "https://hooks.example.test/baton", help: "or, when the URL holds a token, leave this empty and give it as the secret below" },
    { key: "secret", label: "URL with a token (secret)", input: "password", help: "instead of URL: kept sealed, never shown again" },
    { key: "settings.template", label: "Template", input: "textarea", placeholder: '{"summary": "{{title}}", "link": "{{link}}"}', help: "a JSON body with {{title}} {{text}} {{kind}} {{project}} {{workflow}} {{instance}} {{link}} {{message}}; empty: the alert as JSON" },
    TIMEOUT,
  ],
  slack: chat("Slack incoming", "https://hooks.slack.com/services/T000/B000/XXXX"),
  feishu: chat("Feishu bot", "https://open.feishu.cn/open-apis/bot/v2/hook/…"),
  dingtalk: chat("DingTalk robot", "https://oapi.dingtalk.com/robot/send?access_token=…"),
  wecom: chat("WeCom group robot", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"),
  pagerduty: [
    { key: "secret", label: "Routing key", input: "password", required: true, help: "the integration's key: kept sealed, never shown again" },
    { key: "settings.url", label: "Events API URL", input: "text", placeholder: "https://events.pagerduty.com/v2/enqueue" },
    TIMEOUT,
  ],
  email: [
    { key: "settings.smtp_host", label: "SMTP host", input: "text", required: true, placeholder: "smtp.example.com" },
    { key: "settings.smtp_port", label: "SMTP port", input: "number", placeholder: "587 (465 with tls, 25 with none)" },
    { key: "settings.smtp_tls", label: "TLS", input: "select", options: ["starttls", "tls", "none"], help: "none only for a relay on the same host, without a login" },
    { key: "settings.username", label: "SMTP user", input: "text" },
    { key: "secret", label: "SMTP password", input: "password", help: "with a user: kept sealed, never shown again" },
    { key: "settings.from", label: "From", input: "text", required: true, placeholder: "baton@example.com" },
    { key: "settings.to", label: "To", input: "text", required: true, placeholder: "ops@example.com, dba@example.com", help: "comma-separated" },
    TIMEOUT,
  ],
  script: [
    { key: "settings.script", label: "Script", input: "text", required: true, placeholder: "page-ops.sh", help: "a file of the server's --alert-script-dir; it gets the alert as JSON on stdin" },
    TIMEOUT,
  ],
};

/** Every type, in the form's order. */
export const CHANNEL_TYPES = Object.keys(CHANNEL_FORMS) as ChannelType[];

/** What the channel form holds: its name, type, and each field's text. */
export interface ChannelForm {
  name: string;
  type: ChannelType;
  values: Partial<Record<ChannelField, string>>;
}

const text = (f: ChannelForm, key: ChannelField) => (f.values[key] ?? "").trim();
const takes = (type: ChannelType, key: ChannelField) => CHANNEL_FORMS[type].some((s) => s.key === key);

/** The addresses of a `To` text. */
export function addresses(to: string): string[] {
  return to.split(/[,;\s]+/).filter(Boolean);
}

function numberProblem(key: ChannelField, value: string): string | undefined {
  const n = Number(value);
  if (key === "settings.smtp_port") return Number.isInteger(n) && n >= 1 && n <= 65535 ? undefined : "a port from 1 to 65535";
  if (key === "settings.timeout_ms") return Number.isFinite(n) && n > 0 && n <= 60 ? undefined : "seconds, more than 0 and at most 60";
  return undefined;
}

/** What is wrong with the channel form, by field (empty when it may be sent). */
export function channelErrors(f: ChannelForm): FieldErrors {
  const out: FieldErrors = {};
  const name = nameProblem(f.name.trim());
  if (name) out.name = name;
  for (const spec of CHANNEL_FORMS[f.type]) {
    const v = text(f, spec.key);
    if (spec.required && !v) out[spec.key] = `${spec.label} is needed`;
    else if (v && spec.input === "number") {
      const problem = numberProblem(spec.key, v);
      if (problem) out[spec.key] = problem;
    }
  }
  if (f.type === "webhook") {
    const url = text(f, "settings.url");
    const secret = text(f, "secret");
    if (!url && !secret) out["settings.url"] = "a URL is needed (here, or as the secret when it holds a token)";
    if (url && secret) out["settings.url"] = "give the URL here or as the secret, not both";
  }
  if (f.type === "email" && !!text(f, "secret") !== !!text(f, "settings.username")) {
    if (text(f, "secret")) out["settings.username"] = "a password needs its user";
    else out.secret = "a user needs its password";
  }
  return out;
}

/** The body of the create: only the settings of its type that are filled in, the secret
 * only when one was typed. */
export function channelBody(f: ChannelForm): Schemas["AlertChannelRequest"] {
  const settings: Schemas["AlertChannelSettings"] = {};
  const given = (key: ChannelField) => (takes(f.type, key) ? text(f, key) : "");
  if (given("settings.url")) settings.url = given("settings.url");
  if (given("settings.template")) settings.template = given("settings.template");
  if (given("settings.smtp_host")) settings.smtp_host = given("settings.smtp_host");
  if (given("settings.smtp_port")) settings.smtp_port = Number(given("settings.smtp_port"));
  if (given("settings.smtp_tls")) settings.smtp_tls = given("settings.smtp_tls") as Schemas["SmtpTls"];
  if (given("settings.username")) settings.username = given("settings.username");
  if (given("settings.from")) settings.from = given("settings.from");
  if (given("settings.to")) settings.to = addresses(given("settings.to"));
  if (given("settings.script")) settings.script = given("settings.script");
  if (given("settings.timeout_ms")) settings.timeout_ms = Math.round(Number(given("settings.timeout_ms")) * 1000);
  const body: Schemas["AlertChannelRequest"] = { name: f.name.trim(), type: f.type, settings };
  const secret = given("secret");
  if (secret) body.secret = secret;
  return body;
}

/** A channel's settings in words, for its row (never a secret: the API has none to give). */
export function channelSummary(c: Schemas["AlertChannel"]): string {
  const s = c.settings;
  const parts: string[] = [];
  if (s.url) parts.push(s.url);
  if (s.smtp_host) parts.push(`smtp ${s.smtp_host}${s.smtp_port ? `:${s.smtp_port}` : ""}${s.smtp_tls ? ` (${s.smtp_tls})` : ""}`);
  if (s.from) parts.push(`from ${s.from}`);
  if (s.to?.length) parts.push(`to ${s.to.join(", ")}`);
  if (s.script) parts.push(`script ${s.script}`);
  if (s.template) parts.push("a template");
  if (s.timeout_ms) parts.push(`timeout ${s.timeout_ms / 1000} s`);
  if (c.has_secret) parts.push("secret kept");
  return parts.join(" · ");
}

/** What the rule form holds. */
export interface RuleForm {
  on: AlertOn[];
  channel: string;
  workflow: string;
}

/** What is wrong with the rule form, by field. */
export function ruleErrors(f: RuleForm): FieldErrors {
  const out: FieldErrors = {};
  if (!f.on.length) out.on = "choose at least one event";
  if (!f.channel) out.channel = "choose a channel";
  const workflow = f.workflow.trim();
  if (workflow) {
    const problem = nameProblem(workflow);
    if (problem) out.workflow = problem;
  }
  return out;
}

/** The body of a rule's create, its events in the API's order. */
export function ruleBody(f: RuleForm): Schemas["AlertRuleRequest"] {
  const body: Schemas["AlertRuleRequest"] = { on: ALERT_ON.filter((k) => f.on.includes(k)), channel: f.channel };
  if (f.workflow.trim()) body.workflow = f.workflow.trim();
  return body;
}

/** The badge tone of a delivery's state. */
export function deliveryTone(state: Schemas["DeliveryState"]): "ok" | "bad" | "queued" {
  switch (state) {
    case "sent":
      return "ok";
    case "failed":
      return "bad";
    case "pending":
      return "queued";
  }
}

// Colours of states and task types. Each maps to a CSS variable of the theme (styles.css),
// so that the dark and light themes colour them alike.

/** The states of a task instance, as the API names them. */
export const TASK_STATES = [
  "submitted",
  "dispatched",
  "running",
  "succeeded",
  "failed",
  "retry_wait",
  "killed",
  "skipped",
  "paused",
  "need_failover",
] as const;

/** The states of a workflow instance, as the API names them. */
export const WORKFLOW_STATES = [
  "submitted",
  "running",
  "stopping",
  "pausing",
  "paused",
  "stopped",
  "succeeded",
  "failed",
] as const;

/** The tone of a state: one colour each. */
export type Tone = "idle" | "queued" | "active" | "ok" | "bad" | "warn" | "muted";

/** The tone of a task or workflow state; an unknown state is idle (not started). */
export function stateTone(state: string | undefined | null): Tone {
  switch (state) {
    case "submitted":
    case "dispatched":
      return "queued";
    case "running":
    case "stopping":
    case "pausing":
      return "active";
    case "succeeded":
      return "ok";
    case "failed":
      return "bad";
    case "retry_wait":
    case "need_failover":
    case "paused":
      return "warn";
    case "killed":
    case "stopped":
    case "skipped":
      return "muted";
    default:
      return "idle";
  }
}

/** The CSS colour of a state. */
export function stateColor(state: string | undefined | null): string {
  return `var(--tone-${stateTone(state)})`;
}

/** Whether a workflow instance in this state has ended. */
export function workflowEnded(state: string): boolean {
  return state === "succeeded" || state === "failed" || state === "stopped";
}

/** Whether a task in this state may still write to its log. */
export function taskLive(state: string): boolean {
  return ["submitted", "dispatched", "running", "retry_wait", "need_failover"].includes(state);
}

/** The task types a workflow file names, with the colour and short mark of each. */
export const TASK_TYPES: Record<string, { color: string; mark: string }> = {
  shell: { color: "var(--type-shell)", mark: "$" },
  python: { color: "var(--type-python)", mark: "py" },
  noop: { color: "var(--type-noop)", mark: "∅" },
  http: { color: "var(--type-http)", mark: "⇄" },
  sql: { color: "var(--type-sql)", mark: "⛁" },
  service: { color: "var(--type-service)", mark: "⟳" },
  sub_workflow: { color: "var(--type-sub)", mark: "⧉" },
  dependent: { color: "var(--type-dependent)", mark: "⇢" },
  conditions: { color: "var(--type-logic)", mark: "?" },
  switch: { color: "var(--type-logic)", mark: "⑂" },
};

/** The colour of a task type (an unknown one is grey). */
export function typeColor(type: string): string {
  return TASK_TYPES[type]?.color ?? "var(--type-noop)";
}

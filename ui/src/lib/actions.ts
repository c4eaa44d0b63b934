// What an operator can do to an instance in each of its states (the API refuses the rest
// with a 409; the page does not offer them).

/** A command on an instance. */
export type Action = "stop" | "pause" | "resume" | "recover" | "rerun";

/** The commands an instance in `state` takes. */
export function actionsFor(state: string): Action[] {
  if (state === "running") return ["pause", "stop"];
  if (state === "submitted" || state === "pausing") return ["stop"];
  if (state === "paused") return ["resume", "stop"];
  if (state === "failed" || state === "stopped") return ["recover", "rerun"];
  if (state === "succeeded") return ["rerun"];
  return [];
}

import { stateTone } from "../lib/states";

/** A state as a coloured badge. */
export function StateBadge({ state }: { state: string | null | undefined }) {
  return (
    <span className={`badge tone-${stateTone(state)}`} data-state={state ?? "not_started"}>
      {state ?? "not started"}
    </span>
  );
}

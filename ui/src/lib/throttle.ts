// A refetch asked for at most once per `ms`, however many events ask: the events of a
// stream say that something changed, the read after them says what.
import { useCallback, useEffect, useRef } from "react";

/** A function that calls `f` once, `ms` after the first call since the last run. */
export function useTrailing(f: () => void, ms = 250): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const fn = useRef(f);
  fn.current = f;
  useEffect(() => () => clearTimeout(timer.current ?? undefined), []);
  return useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      fn.current();
    }, ms);
  }, [ms]);
}

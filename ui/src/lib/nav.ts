// The project the header links to (its workflows and instances): the URL's `:project`, or
// the project of the instance or task a page shows, which the page tells with useProjectNav.
import { createContext, useContext, useEffect } from "react";

/** Sets the header's project (null: none). */
export const ProjectNav = createContext<(project: string | null) => void>(() => {});

/** Tells the header which project this page is in. */
export function useProjectNav(project: string | undefined) {
  const set = useContext(ProjectNav);
  useEffect(() => {
    if (!project) return;
    set(project);
    return () => set(null);
  }, [project, set]);
}

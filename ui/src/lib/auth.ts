// The current user (`GET /auth/me`) and what their role allows.
import { useQuery } from "@tanstack/react-query";
import { api, data, type Schemas } from "../api/client";

/** The roles, weakest first (as `baton_auth::Role` orders them). */
export const ROLES = ["viewer", "operator", "editor", "admin"] as const;
/** A role on a project. */
export type Role = (typeof ROLES)[number];

/** The caller's role on `project` (a global admin is admin everywhere), if any. */
export function roleOn(me: Schemas["Me"] | undefined, project: string): Role | undefined {
  if (!me) return undefined;
  if (me.global_admin) return "admin";
  const found = me.roles.find((r) => r.project === project)?.role as Role | undefined;
  if (!found) return undefined;
  if (me.token_role && ROLES.indexOf(me.token_role as Role) < ROLES.indexOf(found)) {
    return me.token_role as Role;
  }
  return found;
}

/** Whether `me` has at least `needed` on `project`. */
export function can(me: Schemas["Me"] | undefined, project: string, needed: Role): boolean {
  const role = roleOn(me, project);
  return role !== undefined && ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** The current user, as the server knows them. */
export function useMe() {
  return useQuery({
    queryKey: ["me"],
    queryFn: async () => data(await api.GET("/api/v1/auth/me")),
    staleTime: 60_000,
  });
}

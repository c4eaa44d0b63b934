// Light and dark themes: `prefers-color-scheme` unless the user chose one with the toggle
// (kept in localStorage: a preference, not a secret).

/** The theme setting. */
export type Theme = "system" | "light" | "dark";

const KEY = "baton.theme";

/** The saved choice, else `system`. */
export function savedTheme(): Theme {
  const t = typeof localStorage === "undefined" ? null : localStorage.getItem(KEY);
  return t === "light" || t === "dark" ? t : "system";
}

/** Sets the page's theme (`data-theme` on the root element; `system` removes it). */
export function applyTheme(theme: Theme) {
  const root = document.documentElement;
  if (theme === "system") root.removeAttribute("data-theme");
  else root.setAttribute("data-theme", theme);
  localStorage.setItem(KEY, theme);
}

/** The next setting of the toggle. */
export function nextTheme(theme: Theme): Theme {
  return theme === "system" ? "dark" : theme === "dark" ? "light" : "system";
}

// The YAML text of the workflow editor: CodeMirror 6 with YAML highlighting, and the
// server's problems as diagnostics at their line and column. CodeMirror adds its styles at
// run time; in a document it would add them as <style> elements, which the page's
// Content-Security-Policy (`style-src 'self'`, no inline style) refuses. Mounted in a shadow
// root, it adopts them as constructed style sheets instead, which the policy lets through,
// so the policy stays strict. The page's colours (CSS variables) are inherited inside.
import { useEffect, useRef } from "react";
import { EditorState, type Extension } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { lintGutter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { yaml } from "@codemirror/lang-yaml";
import type { Problem } from "../lib/workflowDoc";

const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "12.5px", color: "var(--text)", backgroundColor: "var(--panel)" },
  ".cm-scroller": { fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace' },
  ".cm-gutters": { backgroundColor: "var(--bg)", color: "var(--muted)", borderRight: "1px solid var(--line)" },
  ".cm-activeLine, .cm-activeLineGutter": { backgroundColor: "var(--hover)" },
  "&.cm-focused": { outline: "none" },
  ".cm-content": { caretColor: "var(--text)" },
});

/** Where a problem is in the text: its line and column (clamped), or the start. */
function diagnostic(state: EditorState, p: Problem): Diagnostic {
  const n = Math.min(Math.max(p.line ?? 1, 1), state.doc.lines);
  const line = state.doc.line(n);
  const from = Math.min(line.from + Math.max((p.column ?? 1) - 1, 0), line.to);
  // The rest of the line from the column: a mark one can see.
  const to = from < line.to ? line.to : Math.min(from + 1, state.doc.length);
  return { from, to, severity: "error", message: p.task ? `task ${p.task}: ${p.message}` : p.message, source: "baton" };
}

/** The YAML editor: `value` is the text (changed from outside on a graph edit), `onChange`
 * gets every edit, `problems` are shown where they are. */
export default function YamlEditor({
  value,
  onChange,
  problems,
}: {
  value: string;
  onChange: (text: string) => void;
  problems: Problem[];
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    const shadow = host.current!.shadowRoot ?? host.current!.attachShadow({ mode: "open" });
    const parent = document.createElement("div");
    parent.className = "yaml-editor";
    parent.style.height = "100%";
    shadow.replaceChildren(parent);
    const extensions: Extension[] = [
      lineNumbers(),
      highlightActiveLineGutter(),
      history(),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      highlightActiveLine(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
      yaml(),
      lintGutter(),
      theme,
      EditorView.updateListener.of((u) => {
        if (u.docChanged) changed.current(u.state.doc.toString());
      }),
    ];
    view.current = new EditorView({ root: shadow, parent, state: EditorState.create({ doc: value, extensions }) });
    return () => {
      view.current?.destroy();
      view.current = null;
    };
    // The editor is made once; `value` changes are dispatched below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const v = view.current;
    if (!v || v.state.doc.toString() === value) return;
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    v.dispatch(setDiagnostics(v.state, problems.map((p) => diagnostic(v.state, p))));
  }, [problems, value]);

  return <div className="yaml-host" ref={host} data-testid="yaml-editor" />;
}

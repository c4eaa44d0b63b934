import { useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api, errorMessage, tokens } from "../api/client";

/** `/login`: a session cookie (HttpOnly) and its CSRF token, kept for this tab. */
export function LoginPage() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const queries = useQueryClient();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const { data, error, response } = await api.POST("/api/v1/auth/login", {
      body: { username, password, session: "cookie" },
    });
    setBusy(false);
    if (!response.ok || !data) {
      setError(errorMessage(error, `login failed (HTTP ${response.status})`));
      return;
    }
    tokens.set(data.csrf_token ?? null);
    queries.setQueryData(["me"], data.user);
    const next = params.get("next");
    navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/projects", { replace: true });
  };

  return (
    <div className="login">
      <form onSubmit={submit} className="card">
        <h1>Baton</h1>
        <label>
          User
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy || !username || !password}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </div>
  );
}

// Sign-in, and the first-run form that creates the first administrator.
import { useEffect, useState } from "react";
import { postJson } from "../http";
import "./sign-in.css";

export function SignIn({ onSignedIn, reason }: { onSignedIn: () => void; reason: string }) {
  const [needsSetup, setNeedsSetup] = useState<boolean | undefined>();
  const [error, setError] = useState(reason);
  useEffect(() => {
    fetch("/api/setup")
      .then(async (r) => setNeedsSetup(((await r.json()) as { needsSetup: boolean }).needsSetup))
      .catch(() => {
        setNeedsSetup(false);
        setError("The server cannot be reached. Check your connection and try again.");
      });
  }, []);
  const submit = async (event: React.FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.currentTarget));
    const response = await postJson(needsSetup ? "/api/setup" : "/api/login", data).catch(() => undefined);
    if (!response) return setError("The server cannot be reached. Check your connection and try again.");
    if (response.ok) return onSignedIn();
    const problem = (await response.json()) as { title?: string; code?: string };
    setError(
      problem.code === "LOGIN_THROTTLED"
        ? "Too many tries: wait a moment."
        : (problem.title ?? "Sign-in failed"),
    );
  };
  if (needsSetup === undefined) return <div className="center">Loading…</div>;
  return (
    <form className="sign-in" onSubmit={(e) => void submit(e)}>
      <h1>soundmesh</h1>
      <p>{needsSetup ? "Create the first administrator" : "Sign in to listen"}</p>
      <input name="name" aria-label="User name" placeholder="User name" autoComplete="username" required />
      <input
        name="password"
        aria-label="Password"
        placeholder="Password"
        type="password"
        autoComplete={needsSetup ? "new-password" : "current-password"}
        required
        minLength={needsSetup ? 8 : 1}
      />
      <button type="submit">{needsSetup ? "Create administrator" : "Sign in"}</button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}

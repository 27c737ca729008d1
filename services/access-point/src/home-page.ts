// The minimal page at "/" until the web player replaces it: who is signed in, a sign-in and a first-run form.
import { createHash } from "node:crypto";

export const homePageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>soundmesh</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; color: #111; }
  form { display: grid; gap: .5rem; } input, button { font: inherit; padding: .4rem .6rem; }
  .error { color: #b00020; } [hidden] { display: none; }
</style>
</head>
<body>
<h1>soundmesh</h1>
<p id="status">Loading…</p>
<form id="form" hidden>
  <input name="name" autocomplete="username" placeholder="User name" required>
  <input name="password" type="password" autocomplete="current-password" placeholder="Password" required>
  <button id="submit" type="submit">Sign in</button>
  <p class="error" id="error"></p>
</form>
<button id="logout" hidden>Sign out</button>
<script type="module">
const $ = (id) => document.getElementById(id);
let mode = "login";
async function refresh() {
  const me = await fetch("/api/me");
  if (me.ok) {
    const user = await me.json();
    $("status").textContent = "Signed in as " + user.name + " (" + user.role + ")";
    $("form").hidden = true; $("logout").hidden = false;
    return;
  }
  const setup = await (await fetch("/api/setup")).json();
  mode = setup.needsSetup ? "setup" : "login";
  $("status").textContent = setup.needsSetup ? "Create the first administrator" : "Not signed in";
  $("submit").textContent = setup.needsSetup ? "Create administrator" : "Sign in";
  $("form").hidden = false; $("logout").hidden = true;
}
$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(event.target));
  const res = await fetch(mode === "setup" ? "/api/setup" : "/api/login", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(data),
  });
  $("error").textContent = res.ok ? "" : (await res.json()).title;
  await refresh();
});
$("logout").addEventListener("click", async () => { await fetch("/api/logout", { method: "POST" }); await refresh(); });
refresh();
</script>
</body>
</html>`;

/** The page's inline script and style as CSP hash sources: the policy allows exactly these, nothing else inline. */
export function homePageSources(): { scriptSources: string[]; styleSources: string[] } {
  const hashesOf = (tag: string) =>
    [...homePageHtml.matchAll(new RegExp(`<${tag}[^>]*>([\\s\\S]*?)</${tag}>`, "g"))].map(
      (match) => `'sha256-${createHash("sha256").update(match[1]!).digest("base64")}'`,
    );
  return { scriptSources: hashesOf("script"), styleSources: hashesOf("style") };
}

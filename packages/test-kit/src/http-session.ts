// Signing in over HTTP, as a listener's browser or a CLI does: the session token for a WebSocket or a cookie.

/** Signs in over HTTP and returns the session token. */
export async function login(baseUrl: string, name: string, password: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password }),
  });
  const body = (await response.json()) as { token?: string; code?: string };
  if (!response.ok || !body.token) throw new Error(`login failed: ${response.status} ${body.code ?? ""}`);
  return body.token;
}

/** Creates the first admin through the first-run endpoint and returns its session token. */
export async function setupAdmin(
  baseUrl: string,
  name = "admin",
  password = "correct horse battery",
): Promise<string> {
  const response = await fetch(`${baseUrl}/api/setup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password }),
  });
  const body = (await response.json()) as { token?: string; code?: string };
  if (!response.ok || !body.token) throw new Error(`setup failed: ${response.status} ${body.code ?? ""}`);
  return body.token;
}

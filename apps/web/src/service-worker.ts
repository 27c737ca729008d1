// The service worker: keeps the app shell (index.html, its hashed assets, the icon and the web app manifest) so the
// player opens offline; audio comes from the engine's own cache (IndexedDB), and the API is never cached here.

interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}
interface WorkerScope {
  addEventListener(type: "install" | "activate", listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: "fetch", listener: (event: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  location: Location;
}
const scope = self as unknown as WorkerScope;

const SHELL = "soundmesh-shell-v1";
/** Files with stable names beside index.html: fetched from the network first, from the cache when offline. */
const STABLE = new Set(["/icon.svg", "/manifest.webmanifest"]);

/** The shell is index.html plus every asset it names; fetched fresh on install. */
async function cacheShell(): Promise<void> {
  const cache = await caches.open(SHELL);
  const response = await fetch("/", { cache: "no-cache" });
  if (!response.ok) return;
  const html = await response.clone().text();
  const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)]
    .map((match) => match[1]!)
    .filter((path) => path.startsWith("/assets/") || STABLE.has(path));
  await cache.put("/", response);
  await cache.addAll(assets);
}

const isApi = (url: URL) =>
  ["/api/", "/ws", "/metrics", "/healthz", "/readyz"].some((p) => url.pathname.startsWith(p));

scope.addEventListener("install", (event) => {
  event.waitUntil(cacheShell().then(() => scope.skipWaiting()));
});

scope.addEventListener("activate", (event) => {
  event.waitUntil(scope.clients.claim());
});

scope.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== scope.location.origin || isApi(url)) return;
  if (event.request.mode === "navigate" || STABLE.has(url.pathname)) {
    // The network first, so a new version shows at once; the cached copy when the server cannot be reached.
    const key = event.request.mode === "navigate" ? "/" : url.pathname;
    event.respondWith(
      fetch(event.request)
        .then(async (response) => {
          if (response.ok) await (await caches.open(SHELL)).put(key, response.clone());
          return response;
        })
        .catch(async () => (await caches.match(key)) ?? Response.error()),
    );
    return;
  }
  if (url.pathname.startsWith("/assets/")) {
    // Hashed names never change content: the cache first, and what is fetched is kept.
    event.respondWith(
      caches.match(event.request).then(
        (hit) =>
          hit ??
          fetch(event.request).then(async (response) => {
            if (response.ok) await (await caches.open(SHELL)).put(event.request, response.clone());
            return response;
          }),
      ),
    );
  }
});

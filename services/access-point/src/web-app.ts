// Serves the built web player (apps/web/dist) with long-lived caching for hashed assets and an SPA fallback.
import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { homePageHtml, homePageSources } from "./home-page";
import { contentSecurityPolicy } from "./security-headers";

const API_PREFIXES = ["/api/", "/ws", "/metrics", "/healthz", "/readyz"];

export function hasWebApp(webRoot: string | undefined): webRoot is string {
  return webRoot !== undefined && existsSync(join(webRoot, "index.html"));
}

/** True when a GET for this URL should get the app's index.html (a client-side route). */
export function isAppRoute(url: string): boolean {
  const path = url.split("?")[0] ?? "/";
  return !API_PREFIXES.some((prefix) => path.startsWith(prefix)) && !/\.[a-z0-9]+$/i.test(path);
}

export async function registerWebApp(app: FastifyInstance, webRoot: string | undefined): Promise<void> {
  if (!hasWebApp(webRoot)) {
    // No build yet: the minimal page says who is signed in and offers sign-in.
    const sources = homePageSources();
    app.get("/", (request, reply) =>
      reply
        .header("content-security-policy", contentSecurityPolicy(request, sources))
        .type("text/html; charset=utf-8")
        .send(homePageHtml),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: webRoot,
    prefix: "/",
    wildcard: false,
    index: ["index.html"],
    // The build writes .br and .gz siblings of its text assets: sent to browsers that accept them.
    preCompressed: true,
    // Our setHeaders decides caching; without this, send's default (max-age=0) would replace it.
    cacheControl: false,
    setHeaders(response, path) {
      const immutable = path.includes(`${join(webRoot, "assets")}`);
      response.setHeader("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
      // The same URL may be sent brotli, gzip or plain: shared caches must keep them apart.
      response.setHeader("vary", "accept-encoding");
    },
  });
}

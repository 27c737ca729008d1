// Client-side routes in the URL's hash (#/album/<id>), so the back button, reloads and shared links work.
import { useEffect, useState } from "react";

export type Route =
  | { name: "home" }
  | { name: "search" }
  | { name: "artists" }
  | { name: "albums" }
  | { name: "album"; id: string }
  | { name: "artist"; id: string }
  | { name: "genres" }
  | { name: "genre"; id: string }
  | { name: "queue" }
  | { name: "stats" }
  | { name: "music" }
  | { name: "settings" }
  | { name: "admin" }
  | { name: "playlists" }
  | { name: "playlist"; id: string }
  | { name: "similar"; id: string };

const withId = new Set(["album", "artist", "genre", "playlist", "similar"]);
const plain = new Set([
  "home",
  "search",
  "artists",
  "albums",
  "genres",
  "queue",
  "stats",
  "music",
  "settings",
  "admin",
  "playlists",
]);

export function parseRoute(hash: string): Route {
  const [name = "home", ...rest] = hash.replace(/^#\/?/, "").split("/");
  const id = decodeURIComponent(rest.join("/"));
  if (withId.has(name) && id) return { name, id } as Route;
  if (plain.has(name)) return { name } as Route;
  return { name: "home" };
}

export function hrefOf(route: Route): string {
  return "id" in route ? `#/${route.name}/${encodeURIComponent(route.id)}` : `#/${route.name}`;
}

export function navigate(route: Route): void {
  location.hash = hrefOf(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => {
      setRoute(parseRoute(location.hash));
      document.querySelector("main")?.scrollTo(0, 0);
    };
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

// Home: recently added and random albums, refreshed when the catalog changes.
import { useEffect, useState } from "react";
import type { AlbumRecord } from "@soundmesh/protocol";
import { AlbumGrid } from "../components/cover";
import type { Connection } from "../connection";

export function Home({ connection, open }: { connection: Connection; open: (id: string) => void }) {
  const [recent, setRecent] = useState<AlbumRecord[]>([]);
  const [random, setRandom] = useState<AlbumRecord[]>([]);
  useEffect(() => {
    const load = () => {
      void connection
        .request<{ items: AlbumRecord[] }>("catalog.recentlyAdded", { limit: 12 })
        .then((r) => setRecent(r.items));
      void connection
        .request<{ albums: AlbumRecord[] }>("catalog.random", { kind: "albums", limit: 6 })
        .then((r) => setRandom(r.albums));
    };
    load();
    return connection.subscribe("catalog.changed", load);
  }, [connection]);
  return (
    <section>
      <h2>Recently added</h2>
      {recent.length === 0 ? (
        <p className="muted">Nothing yet: the library is being scanned.</p>
      ) : (
        <AlbumGrid albums={recent} open={open} />
      )}
      <h2>Random albums</h2>
      <AlbumGrid albums={random} open={open} />
    </section>
  );
}

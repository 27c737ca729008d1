// Home: recently added, recently played and random albums; refreshed when the catalog changes.
import { useEffect, useState } from "react";
import type { AlbumRecord, TrackRecord } from "@soundmesh/protocol";
import { AlbumGrid, Cover } from "../components/cover";
import type { Connection } from "../connection";
import { navigate } from "../route";
import { settings } from "../settings";
import { catalogContract, pushTopics } from "@soundmesh/protocol";

/** The albums of the recently played tracks, most recent first. */
function RecentlyPlayed({ tracks }: { tracks: TrackRecord[] }) {
  const seen = new Set<string>();
  const albums = tracks.filter((t) => !seen.has(t.albumId) && seen.add(t.albumId)).slice(0, 12);
  if (albums.length === 0) return <p className="muted">Nothing played yet.</p>;
  return (
    <div className="grid">
      {albums.map((t) => (
        <button key={t.albumId} className="card" onClick={() => navigate({ name: "album", id: t.albumId })}>
          <Cover albumId={t.albumId} hasCover={t.hasCover} />
          <strong>{t.album}</strong>
          <span>{t.albumArtist}</span>
        </button>
      ))}
    </div>
  );
}

export function Home({ connection }: { connection: Connection }) {
  const [recent, setRecent] = useState<AlbumRecord[]>();
  const [random, setRandom] = useState<AlbumRecord[]>([]);
  const [error, setError] = useState("");
  const open = (id: string) => navigate({ name: "album", id });
  useEffect(() => {
    const load = () => {
      connection
        .call(catalogContract, "recentlyAdded", { limit: 12 })
        .then((r) => {
          setRecent(r.items);
          setError("");
        })
        .catch((e: Error) => setError(`Could not load the library: ${e.message}`));
      connection
        .call(catalogContract, "random", { kind: "albums", limit: 6 })
        .then((r) => setRandom(r.albums))
        .catch((e: Error) => setError(`Could not load the library: ${e.message}`));
    };
    load();
    return connection.subscribe(pushTopics.catalogChanged, load);
  }, [connection]);
  return (
    <section>
      {error && <p className="error">{error}</p>}
      <h2>Recently added</h2>
      {recent === undefined ? (
        <p className="muted">Loading…</p>
      ) : recent.length === 0 ? (
        <p className="muted">Nothing yet: the library is being scanned.</p>
      ) : (
        <AlbumGrid albums={recent} open={open} />
      )}
      <h2>Recently played</h2>
      <RecentlyPlayed tracks={settings.recentlyPlayed()} />
      <h2>Random albums</h2>
      <AlbumGrid albums={random} open={open} />
    </section>
  );
}

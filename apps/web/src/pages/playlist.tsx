// A playlist: play, shuffle, queue, and in its "More" menu offline, export; for editors rename, describe, reorder by
// dragging, remove, change the cover (menu); for the owner invitations to collaborate, and in the menu visibility and
// deletion; smart rules; for others follow / unfollow. Edits show at once and sync in the background.
import { useEffect, useState } from "react";
import type {
  ItemSnapshot,
  PlaylistInfo,
  SentInvitation,
  SmartRules,
  TrackRecord,
} from "@soundmesh/protocol";
import type { PlaylistModel } from "@soundmesh/playlist-model";
import type { AudioController } from "../audio";
import { MenuButton } from "../components/menu-button";
import { StartRadioItem } from "../components/radio-items";
import { CoverMenuItems, ExportPlaylist, PlaylistCover } from "../components/playlist-files";
import { Reorderable } from "../components/reorderable";
import { SmartRulesForm, describeRules } from "../components/smart-rules";
import type { Connection } from "../connection";
import { formatTime } from "../http";
import type { OfflineCollection } from "../offline";
import { navigate } from "../route";
import { useOfflineChanges } from "../use-audio";
import { usePlaylist } from "../use-playlist";
import { playlistContract } from "@soundmesh/protocol";

/** The playlist's offline state as the heading says it: downloading, available, or nothing. */
function OfflineStatus({ audio, id }: { audio: AudioController; id: string }) {
  useOfflineChanges(audio);
  const offline = audio.offline;
  const progress = offline.downloading.get(id);
  const problem = offline.problems.get(id);
  if (progress !== undefined) return <> · downloading for offline {Math.round(progress * 100)}%</>;
  if (problem) return <> · offline download failed: {problem}</>;
  return offline.has(id) && offline.isComplete(id) ? <> · available offline</> : null;
}

/** "Make available offline" as a menu item that says whether it is on; pressed again it cancels or removes. */
function OfflineMenuItem({ audio, collection }: { audio: AudioController; collection: OfflineCollection }) {
  useOfflineChanges(audio);
  const offline = audio.offline;
  const id = collection.id;
  const progress = offline.downloading.get(id);
  const pinned = offline.has(id);
  const complete = pinned && offline.isComplete(id);
  return (
    <button
      role="menuitemcheckbox"
      aria-checked={pinned}
      data-offline={complete ? "ready" : undefined}
      // A failed download stays listed but incomplete; choosing it again retries.
      onClick={() => void (progress !== undefined || complete ? offline.unpin(id) : offline.pin(collection))}
    >
      {progress !== undefined
        ? `Downloading ${Math.round(progress * 100)}% — cancel`
        : complete
          ? "Available offline"
          : pinned
            ? "Finish download for offline"
            : "Make available offline"}
    </button>
  );
}

/** The owner's view of who collaborates: invite by user name, the invitations still waiting, remove someone. */
function Members({
  connection,
  info,
  onError,
}: {
  connection: Connection;
  info: PlaylistInfo;
  onError: (m: string) => void;
}) {
  const [refreshed, setRefreshed] = useState(0);
  const [waiting, setWaiting] = useState<SentInvitation[]>([]);
  const [status, setStatus] = useState("");
  const isOwner = info.access.role === "owner";
  // `info` is new after each push that changed the members (an answer, a cancellation): the list follows.
  useEffect(() => {
    if (!isOwner) return;
    void connection
      .call(playlistContract, "sentInvitations", { playlistId: info.id })
      .then(setWaiting, (e: Error) => onError(e.message));
  }, [connection, info, isOwner, refreshed, onError]);
  /** Whether it worked; a refusal shows as the page's error. */
  const call = (request: Promise<unknown>): Promise<boolean> =>
    request.then(
      () => {
        setRefreshed((n) => n + 1);
        return true;
      },
      (e: Error) => {
        onError(e.message);
        return false;
      },
    );
  if (!isOwner)
    return info.access.isFollowing ? (
      <button
        className="secondary"
        onClick={() => void call(connection.call(playlistContract, "unfollow", { playlistId: info.id }))}
      >
        Unfollow
      </button>
    ) : (
      <button
        className="secondary"
        onClick={() => void call(connection.call(playlistContract, "follow", { playlistId: info.id }))}
      >
        Follow
      </button>
    );
  return (
    <>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const userName = ((new FormData(form).get("userName") as string | null) ?? "").trim();
          if (!userName) return;
          void call(connection.call(playlistContract, "invite", { playlistId: info.id, userName })).then(
            (isSent) => {
              if (isSent) form.reset();
              setStatus(isSent ? `Invited ${userName}: they collaborate once they accept.` : "");
            },
          );
        }}
      >
        <input
          name="userName"
          aria-label="User name to invite"
          placeholder="Invite a collaborator"
          maxLength={64}
        />
        <button className="secondary" type="submit">
          Invite
        </button>
        {info.collaborators.map((c) => (
          <button
            key={c.id}
            type="button"
            className="chip"
            title="Remove this collaborator"
            onClick={() =>
              void call(
                connection.call(playlistContract, "removeCollaborator", {
                  playlistId: info.id,
                  userId: c.id,
                }),
              )
            }
          >
            {c.name} ✕
          </button>
        ))}
      </form>
      {status && <p role="status">{status}</p>}
      {waiting.length > 0 && (
        <ul className="invitation-list" aria-label="Waiting invitations">
          {waiting.map((invitation) => (
            <li key={invitation.user.id}>
              <span className="muted">{invitation.user.name}: invited, not answered yet</span>
              <button
                className="secondary"
                onClick={() =>
                  void call(
                    connection.call(playlistContract, "cancelInvitation", {
                      playlistId: info.id,
                      userId: invitation.user.id,
                    }),
                  )
                }
              >
                Cancel invitation to {invitation.user.name}
              </button>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** A smart playlist's rules, which its owner may change; its items follow them (they are not edited by hand). */
function Rules({
  connection,
  model,
  rules,
  onError,
}: {
  connection: Connection;
  model: PlaylistModel;
  rules: SmartRules;
  onError: (m: string) => void;
}) {
  const [isEditing, setEditing] = useState(false);
  const save = (next: SmartRules) =>
    connection.call(playlistContract, "setSmartRules", { playlistId: model.playlistId, rules: next }).then(
      (snapshot) => {
        // The new items arrive as pushed revisions; the rules themselves only in this answer.
        model.applyInfo({ ...model.info, smartRules: snapshot.playlist.smartRules });
        setEditing(false);
      },
      (e: Error) => onError(`Could not change the rules: ${e.message}`),
    );
  return (
    <div className="smart-summary">
      <p data-testid="smart-rules">
        <strong>Rules:</strong> {describeRules(rules)}
        {model.info.access.role === "owner" && !isEditing && (
          <button className="link-button" onClick={() => setEditing(true)}>
            Edit rules
          </button>
        )}
      </p>
      {isEditing && (
        <SmartRulesForm
          connection={connection}
          initial={rules}
          submitLabel="Save rules"
          onSubmit={(next) => void save(next)}
          onCancel={() => setEditing(false)}
        />
      )}
    </div>
  );
}

/** An item whose track the library no longer has: what it was, greyed, not playable, removable by editors. */
function UnavailableItem({
  index,
  snapshot,
  onRemove,
}: {
  index: number;
  snapshot: ItemSnapshot | null;
  onRemove: (() => void) | undefined;
}) {
  const title = snapshot?.title ?? "Unknown song";
  return (
    <>
      <button className="track-main unavailable" disabled title="This song is no longer in the library">
        <span className="number">{index + 1}</span>
        <span className="title">
          {title}
          <small>
            {snapshot ? `${snapshot.artist} · ${snapshot.album} · ` : ""}
            <em>Unavailable</em>
          </small>
        </span>
        <span className="muted">{snapshot ? formatTime(snapshot.durationMs / 1000) : ""}</span>
      </button>
      {onRemove && (
        <button className="remove" aria-label={`Remove ${title} from the playlist`} onClick={onRemove}>
          ✕
        </button>
      )}
    </>
  );
}

export function Playlist({
  connection,
  playlistId,
  audio,
  userId,
}: {
  connection: Connection;
  playlistId: string;
  audio: AudioController;
  userId: string;
}) {
  const { model, tracks, unavailable, error, deleted } = usePlaylist(connection, playlistId, userId);
  const [problem, setProblem] = useState("");
  if (deleted) return <p className="muted">This playlist was deleted.</p>;
  if (!model) return error ? <p className="error">{error}</p> : <p className="muted">Loading…</p>;
  const info = model.info;
  const meta = model.meta;
  const items = model.items;
  const canEdit = info.access.canEdit && !info.smartRules;
  // Items whose track left the library are shown greyed and skipped on play, until the track comes back.
  const records = items.map((item) => tracks.get(item.trackId)).filter((t): t is TrackRecord => !!t);
  const unavailableCount = items.filter((item) => unavailable.has(item.trackId)).length;
  const moveItem = (from: number, to: number) => {
    const moved = items[from];
    if (!moved || from === to) return;
    const rest = items.filter((_, i) => i !== from);
    // Dropped at `to`: after the item now just before that place, or at the start.
    model.move([moved.itemId], to === 0 ? null : rest[to - 1]!.itemId);
  };
  /** Plays the playlist in a shuffled order, from a random song. */
  const shuffle = async () => {
    await audio.playTracks(records, Math.floor(Math.random() * records.length));
    await audio.setShuffle(true);
  };
  const remove = async () => {
    if (!window.confirm(`Delete the playlist "${meta.name}"?`)) return;
    await connection.call(playlistContract, "delete", { playlistId }).then(
      () => navigate({ name: "playlists" }),
      (e: Error) => setProblem(e.message),
    );
  };
  return (
    <section>
      <header className="album-header">
        <PlaylistCover info={info} />
        <div className="playlist-heading">
          <p className="muted">
            {info.smartRules ? "Smart playlist" : "Playlist"}
            {meta.isCollaborative ? " · collaborative" : ""}
            {meta.isPublic ? " · public" : ""} · {info.followerCount} followers
            <OfflineStatus audio={audio} id={`playlist:${info.id}`} />
            {unavailableCount > 0 && (
              <span data-testid="unavailable-count"> · {unavailableCount} unavailable</span>
            )}
            {model.pending.length > 0 ? " · saving…" : ""}
          </p>
          {canEdit ? (
            <input
              className="title-input"
              aria-label="Playlist name"
              defaultValue={meta.name}
              key={`name:${meta.name}`}
              onBlur={(e) =>
                e.target.value.trim() && e.target.value !== meta.name && model.rename(e.target.value.trim())
              }
              onKeyDown={(e) => e.key === "Enter" && e.currentTarget.blur()}
            />
          ) : (
            <h2>{meta.name}</h2>
          )}
          {canEdit ? (
            <textarea
              aria-label="Playlist description"
              placeholder="Add a description"
              defaultValue={meta.description}
              key={`description:${meta.description}`}
              onBlur={(e) => e.target.value !== meta.description && model.setDescription(e.target.value)}
            />
          ) : (
            meta.description && <p>{meta.description}</p>
          )}
        </div>
      </header>
      {info.smartRules && (
        <Rules connection={connection} model={model} rules={info.smartRules} onError={setProblem} />
      )}
      {/* What a listener uses every time stays in sight; the rest waits in "More". */}
      <div className="actions playlist-actions" role="group" aria-label="Playlist actions">
        <button
          className="primary"
          disabled={records.length === 0}
          onClick={() => void audio.playTracks(records, 0)}
        >
          Play
        </button>
        <button className="secondary" disabled={records.length === 0} onClick={() => void shuffle()}>
          Shuffle
        </button>
        <button
          className="secondary"
          disabled={records.length === 0}
          onClick={() => void audio.addToQueue(records)}
        >
          Add to queue
        </button>
        <MenuButton label="More ▾" ariaLabel="More playlist actions">
          {records.length > 0 && (
            <StartRadioItem seed={{ kind: "playlist", id: info.id }} label={meta.name} />
          )}
          <OfflineMenuItem
            audio={audio}
            collection={{
              id: `playlist:${info.id}`,
              title: meta.name,
              subtitle: "Playlist",
              albumId: records[0]?.albumId,
              tracks: records,
            }}
          />
          <ExportPlaylist connection={connection} playlistId={info.id} onError={setProblem} />
          {info.access.canEdit && <CoverMenuItems info={info} onError={setProblem} />}
          {info.access.role === "owner" && (
            <>
              <button
                role="menuitemcheckbox"
                aria-checked={meta.isCollaborative}
                onClick={() => model.setCollaborative(!meta.isCollaborative)}
              >
                Collaborative
              </button>
              <button
                role="menuitemcheckbox"
                aria-checked={meta.isPublic}
                onClick={() => model.setPublic(!meta.isPublic)}
              >
                Public
              </button>
              <button role="menuitem" className="danger" onClick={() => void remove()}>
                Delete…
              </button>
            </>
          )}
        </MenuButton>
      </div>
      <Members connection={connection} info={info} onError={setProblem} />
      {(problem || error) && <p className="error">{problem || error}</p>}
      {items.length === 0 && (
        <p className="muted">
          {info.smartRules
            ? "No songs in the library match these rules."
            : "Empty: add songs with ♫ from any album or search."}
        </p>
      )}
      <Reorderable
        items={items}
        keyOf={(item) => item.itemId}
        label={(item) => tracks.get(item.trackId)?.title ?? unavailable.get(item.trackId)?.title ?? "song"}
        move={moveItem}
        canMove={canEdit}
        render={(item, index) => {
          const track = tracks.get(item.trackId);
          if (!track && unavailable.has(item.trackId))
            return (
              <UnavailableItem
                index={index}
                snapshot={unavailable.get(item.trackId) ?? null}
                onRemove={canEdit ? () => model.remove([item.itemId]) : undefined}
              />
            );
          return (
            <>
              <button
                className="track-main"
                onClick={() => track && void audio.playTracks(records, Math.max(0, records.indexOf(track)))}
              >
                <span className="number">{index + 1}</span>
                <span className="title">
                  {track?.title ?? "…"}
                  <small>{track?.artist ?? ""}</small>
                </span>
                <span className="muted">{track ? formatTime(track.durationMs / 1000) : ""}</span>
              </button>
              {canEdit && (
                <button
                  className="remove"
                  aria-label={`Remove ${track?.title ?? "song"} from the playlist`}
                  onClick={() => model.remove([item.itemId])}
                >
                  ✕
                </button>
              )}
            </>
          );
        }}
      />
    </section>
  );
}

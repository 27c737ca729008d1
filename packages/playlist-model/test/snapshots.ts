// Playlist snapshots for the client-model tests: one collaborative playlist owned by u1, with the items named.
import type { PlaylistSnapshot } from "@soundmesh/protocol";

export const item = (itemId: string, trackId = `t-${itemId}`) => ({
  itemId,
  trackId,
  addedBy: "u1",
  addedAt: 1,
});

export function snapshotOf(itemIds: string[], revision = 0): PlaylistSnapshot {
  return {
    playlist: {
      id: "playlist1",
      ownerId: "u1",
      ownerName: "alice",
      name: "Mix",
      description: "",
      isPublic: false,
      isCollaborative: true,
      collaborators: [],
      followerCount: 0,
      revision,
      itemCount: itemIds.length,
      hasUploadedCover: false,
      smartRules: null,
      createdAt: 1,
      updatedAt: 1,
      access: { role: "owner", canEdit: true, isFollowing: false },
    },
    items: itemIds.map((id) => item(id)),
  };
}

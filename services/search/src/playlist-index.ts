// The small in-memory playlist index (MiniSearch over name, description, owner): each playlist with the users who may
// find it, built in one go and then kept current one playlist at a time, each replacement synchronous.
import MiniSearch from "minisearch";
import type { PlaylistSearchDocument } from "@soundmesh/protocol";
import { normalise, queryTermsOf, rankPass, titleKeyOf, type RankedAnswer } from "./ranking";

export class PlaylistIndex {
  private readonly engine = new MiniSearch<PlaylistSearchDocument>({
    fields: ["name", "description", "ownerName"],
    storeFields: [],
    processTerm: (term) => normalise(term),
  });
  private readonly documents = new Map<string, PlaylistSearchDocument>();
  private readonly titleKeys = new Map<string, string>();

  static empty(): PlaylistIndex {
    return new PlaylistIndex();
  }

  /** Builds a new index from pages of documents; the caller swaps it in once it is whole. */
  static async build(pages: AsyncIterable<PlaylistSearchDocument[]>): Promise<PlaylistIndex> {
    const index = new PlaylistIndex();
    for await (const page of pages) for (const document of page) index.put(document.id, document);
    return index;
  }

  get size(): number {
    return this.documents.size;
  }

  /** Replaces one playlist's document, or removes it (undefined), without yielding: no query sees half of it. */
  put(id: string, document: PlaylistSearchDocument | undefined): void {
    const old = this.documents.get(id);
    if (old) {
      this.engine.remove(old);
      this.documents.delete(id);
      this.titleKeys.delete(id);
    }
    if (document) {
      this.engine.add(document);
      this.documents.set(id, document);
      this.titleKeys.set(id, titleKeyOf(document.name));
    }
  }

  /** The best `wanted` playlists `userId` may see (public ones only without a user), in rank order. */
  ranked(query: string, userId: string | undefined, wanted: number): RankedAnswer {
    const mayFind = (document: PlaylistSearchDocument) =>
      document.audience === null || (userId !== undefined && document.audience.includes(userId));
    const terms = queryTermsOf(query);
    const options = {
      boost: { name: 3, ownerName: 1.5, description: 1 },
      filter: (result: { id: unknown }) => mayFind(this.documents.get(String(result.id))!),
    };
    const describe = (id: string) => {
      const document = this.documents.get(id)!;
      return {
        popularity: document.followers,
        titleKey: this.titleKeys.get(id)!,
        hit: {
          id,
          kind: "playlist" as const,
          title: document.name,
          subtitle: `Playlist · ${document.ownerName}`,
        },
      };
    };
    const limits = { wanted, perKind: wanted };
    const exact = rankPass(this.engine, terms, options, limits, describe, false);
    // A small index: typos are looked for whenever exact and prefix matches do not fill what is wanted.
    return exact.total < wanted ? rankPass(this.engine, terms, options, limits, describe, true) : exact;
  }
}

// The client's view of one playlist: the confirmed state (server revisions applied in order) plus a queue of
// local operations not yet confirmed, shown optimistically and sent in batches; survives being offline.
import {
  MAX_OPERATIONS_PER_EDIT,
  playlistOperation,
  type PlaylistItem,
  type PlaylistOperation,
  type PlaylistRevision,
  type PlaylistSnapshot,
  type SubmittedOperation,
} from "@soundmesh/protocol";
import { ItemList, type PlaylistMeta } from "./item-list";

export interface QueuedOperation extends SubmittedOperation {
  /** Sent and not yet answered. */
  inFlight: boolean;
  /** The revision the server gave it, once acknowledged (it leaves the queue when that revision is applied). */
  ackedRevision?: number;
}

/** What a client keeps across restarts to resume offline edits: the confirmed snapshot and the queue. */
export interface PlaylistModelState {
  snapshot: PlaylistSnapshot;
  queue: SubmittedOperation[];
}

export interface EditBatch {
  playlistId: string;
  baseRevision: number;
  operations: SubmittedOperation[];
}

export interface PlaylistModelOptions {
  /** The signed-in user: shown as `addedBy` of optimistic items. */
  userId?: string;
  now?: () => number;
  newId?: () => string;
}

/** The fate of a failed batch: sent again later, dropped (rejected for good), or needing a fresh snapshot. */
export type BatchOutcome = "retry" | "dropped" | "resync";

export interface SyncErrorInfo {
  code: string;
  details?: unknown;
}

const permanentCodes = new Set(["FORBIDDEN", "GONE", "NOT_FOUND", "UNAUTHENTICATED"]);

/** 96 random bits, URL-safe: item and operation ids are made by clients, offline included. */
export function newRandomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_");
}

export class PlaylistModel {
  readonly playlistId: string;
  private snapshot: PlaylistSnapshot;
  private confirmed: ItemList;
  private confirmedMeta: PlaylistMeta;
  private revisionNumber: number;
  private queue: QueuedOperation[] = [];
  /** Revisions that arrived ahead of a gap, applied once the gap is filled. */
  private readonly early = new Map<number, PlaylistRevision>();
  private view: { items: ItemList; meta: PlaylistMeta } | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly rejectionListeners = new Set<
    (operation: SubmittedOperation, error: SyncErrorInfo) => void
  >();
  private readonly userId: string;
  private readonly now: () => number;
  private readonly newId: () => string;

  constructor(
    snapshot: PlaylistSnapshot,
    options: PlaylistModelOptions = {},
    queue: SubmittedOperation[] = [],
  ) {
    this.playlistId = snapshot.playlist.id;
    this.snapshot = snapshot;
    this.confirmed = new ItemList(snapshot.items);
    this.confirmedMeta = metaOf(snapshot);
    this.revisionNumber = snapshot.playlist.revision;
    this.queue = queue.map((op) => ({ ...op, inFlight: false }));
    this.userId = options.userId ?? "me";
    this.now = options.now ?? (() => Date.now());
    this.newId = options.newId ?? newRandomId;
  }

  static restore(state: PlaylistModelState, options: PlaylistModelOptions = {}): PlaylistModel {
    return new PlaylistModel(state.snapshot, options, state.queue);
  }

  /** The confirmed snapshot and the unconfirmed queue, for saving (e.g. in IndexedDB) while offline. */
  save(): PlaylistModelState {
    return {
      snapshot: {
        playlist: { ...this.snapshot.playlist, ...this.confirmedMeta, revision: this.revisionNumber },
        items: [...this.confirmed.toArray()],
      },
      queue: this.queue.map(({ opId, operation }) => ({ opId, operation })),
    };
  }

  /** The last revision applied from the server. */
  get revision(): number {
    return this.revisionNumber;
  }

  /** The items as the user sees them: confirmed, then every queued operation applied on top. */
  get items(): readonly PlaylistItem[] {
    return this.optimistic().items.toArray();
  }

  get meta(): Readonly<PlaylistMeta> {
    return this.optimistic().meta;
  }

  get confirmedItems(): readonly PlaylistItem[] {
    return this.confirmed.toArray();
  }

  get info(): PlaylistSnapshot["playlist"] {
    return this.snapshot.playlist;
  }

  get pending(): readonly QueuedOperation[] {
    return this.queue;
  }

  /** Whether revisions arrived that cannot be applied until missing ones are fetched (changesSince). */
  get isBehind(): boolean {
    return this.early.size > 0;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called with each queued operation the server refused for good (the UI may tell the user). */
  onRejected(listener: (operation: SubmittedOperation, error: SyncErrorInfo) => void): () => void {
    this.rejectionListeners.add(listener);
    return () => this.rejectionListeners.delete(listener);
  }

  // Local edits: each is checked against the contract, queued and shown at once.

  /** `afterItemId`: an item id, null for the start, or "end". */
  insert(afterItemId: string | null, trackIds: readonly string[]): SubmittedOperation {
    return this.enqueue({
      type: "insert",
      afterItemId,
      items: trackIds.map((trackId) => ({ itemId: this.newId(), trackId })),
    });
  }

  /** Inserts so the first new item sits at `index` of the list as the user sees it now (drag and drop). */
  insertAt(index: number, trackIds: readonly string[]): SubmittedOperation {
    return this.insert(this.anchorBefore(index), trackIds);
  }

  /** Moves the items so they start at `index` of the list as it would be without them. */
  moveTo(itemIds: readonly string[], index: number): SubmittedOperation {
    const moving = new Set(itemIds);
    const rest = this.items.filter((item) => !moving.has(item.itemId));
    return this.move(itemIds, index <= 0 ? null : (rest[Math.min(index, rest.length) - 1]?.itemId ?? null));
  }

  append(trackIds: readonly string[]): SubmittedOperation {
    return this.insert("end", trackIds);
  }

  remove(itemIds: readonly string[]): SubmittedOperation {
    return this.enqueue({ type: "remove", itemIds: [...itemIds] });
  }

  move(itemIds: readonly string[], afterItemId: string | null): SubmittedOperation {
    return this.enqueue({ type: "move", itemIds: [...itemIds], afterItemId });
  }

  rename(name: string): SubmittedOperation {
    return this.enqueue({ type: "rename", name });
  }

  setDescription(description: string): SubmittedOperation {
    return this.enqueue({ type: "setDescription", description });
  }

  setPublic(isPublic: boolean): SubmittedOperation {
    return this.enqueue({ type: "setPublic", isPublic });
  }

  setCollaborative(isCollaborative: boolean): SubmittedOperation {
    return this.enqueue({ type: "setCollaborative", isCollaborative });
  }

  /** Queues an operation; throws (a ZodError) when it breaks the contract, so a bad edit never reaches the queue. */
  enqueue(operation: PlaylistOperation): SubmittedOperation {
    const submitted = { opId: this.newId(), operation: playlistOperation.parse(operation) };
    this.queue.push({ ...submitted, inFlight: false });
    this.changed();
    return submitted;
  }

  // Synchronisation, driven by PlaylistSync (or any transport).

  /** The queued operations to send now, marked in flight; undefined while a batch is out or nothing waits. */
  takeBatch(): EditBatch | undefined {
    if (this.queue.some((op) => op.inFlight)) return undefined;
    const ready = this.queue.filter((op) => op.ackedRevision === undefined).slice(0, MAX_OPERATIONS_PER_EDIT);
    if (ready.length === 0) return undefined;
    for (const op of ready) op.inFlight = true;
    return {
      playlistId: this.playlistId,
      baseRevision: this.revisionNumber,
      operations: ready.map(({ opId, operation }) => ({ opId, operation })),
    };
  }

  /** The server applied the batch: its revisions are applied in order (now, or once earlier ones arrive). */
  acknowledge(result: { revision: number; applied: readonly PlaylistRevision[] }): void {
    const revisionOf = new Map(result.applied.map((r) => [r.opId, r.revision]));
    for (const op of this.queue) {
      const revision = revisionOf.get(op.opId);
      if (revision !== undefined) {
        op.ackedRevision = revision;
        op.inFlight = false;
      }
    }
    // Anything still in flight was not part of this answer; send it again.
    for (const op of this.queue) op.inFlight = false;
    this.receive(result.applied);
  }

  /** The batch failed: decides from the error code what happens to the operations that were in flight. */
  failBatch(error: SyncErrorInfo): BatchOutcome {
    const inFlight = this.queue.filter((op) => op.inFlight);
    for (const op of inFlight) op.inFlight = false;
    if (error.code === "REVISION_AHEAD") return "resync";
    const badOpId = opIdOf(error.details);
    if (error.code === "BAD_OPERATION" || error.code === "VALIDATION_FAILED") {
      const culprit = inFlight.find((op) => op.opId === badOpId);
      this.drop(culprit ? [culprit] : inFlight, error);
      return "dropped";
    }
    if (permanentCodes.has(error.code)) {
      this.drop(
        this.queue.filter((op) => op.ackedRevision === undefined),
        error,
      );
      return "dropped";
    }
    return "retry";
  }

  /**
   * Applies revisions from the server (pushes, acknowledgements, catch-up) in revision order; ones already applied
   * are ignored, ones after a gap wait for it (see isBehind). A queued operation leaves the queue when its
   * revision is applied.
   */
  receive(revisions: readonly PlaylistRevision[]): void {
    for (const revision of revisions) {
      if (revision.revision > this.revisionNumber) this.early.set(revision.revision, revision);
    }
    let next = this.early.get(this.revisionNumber + 1);
    let appliedAny = false;
    while (next) {
      this.early.delete(next.revision);
      this.confirmed.apply(next.operation, next.author, next.at, this.confirmedMeta);
      this.revisionNumber = next.revision;
      const opId = next.opId;
      this.queue = this.queue.filter((op) => op.opId !== opId);
      appliedAny = true;
      next = this.early.get(this.revisionNumber + 1);
    }
    if (appliedAny) this.changed();
  }

  /** Replaces the confirmed state (first load, or too far behind); queued operations stay and are re-sent. */
  applySnapshot(snapshot: PlaylistSnapshot): void {
    this.snapshot = snapshot;
    this.confirmed = new ItemList(snapshot.items);
    this.confirmedMeta = metaOf(snapshot);
    this.revisionNumber = snapshot.playlist.revision;
    for (const key of [...this.early.keys()]) if (key <= this.revisionNumber) this.early.delete(key);
    this.queue = this.queue.filter(
      (op) => op.ackedRevision === undefined || op.ackedRevision > this.revisionNumber,
    );
    this.changed();
  }

  /** Members, owner or rules changed: keeps the item state, replaces what the server says about the playlist. */
  applyInfo(info: PlaylistSnapshot["playlist"]): void {
    this.snapshot = { ...this.snapshot, playlist: info };
    this.changed();
  }

  /** The item an insert at `index` goes after: indexes become ids at once, so the edit survives others' edits. */
  private anchorBefore(index: number): string | null {
    const items = this.items;
    if (index <= 0) return null;
    return items[Math.min(index, items.length) - 1]?.itemId ?? null;
  }

  private drop(operations: readonly QueuedOperation[], error: SyncErrorInfo): void {
    const dropped = new Set(operations.map((op) => op.opId));
    this.queue = this.queue.filter((op) => !dropped.has(op.opId));
    for (const op of operations) {
      for (const listener of this.rejectionListeners)
        listener({ opId: op.opId, operation: op.operation }, error);
    }
    this.changed();
  }

  private optimistic(): { items: ItemList; meta: PlaylistMeta } {
    if (!this.view) {
      if (this.queue.length === 0) {
        this.view = { items: this.confirmed, meta: this.confirmedMeta };
      } else {
        const items = this.confirmed.clone();
        const meta = { ...this.confirmedMeta };
        const at = this.now();
        for (const op of this.queue) items.apply(op.operation, this.userId, at, meta);
        this.view = { items, meta };
      }
    }
    return this.view;
  }

  private changed(): void {
    this.view = undefined;
    for (const listener of this.listeners) listener();
  }
}

function metaOf(snapshot: PlaylistSnapshot): PlaylistMeta {
  const { name, description, isPublic, isCollaborative } = snapshot.playlist;
  return { name, description, isPublic, isCollaborative };
}

function opIdOf(details: unknown): string | undefined {
  if (typeof details !== "object" || details === null) return undefined;
  const opId = (details as { opId?: unknown }).opId;
  return typeof opId === "string" ? opId : undefined;
}

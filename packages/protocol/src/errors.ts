// The one catalogue of typed error codes: each code's HTTP status; AppError is what every layer throws.

export const errorCatalog = {
  BAD_REQUEST: { status: 400, message: "The request is malformed" },
  VALIDATION_FAILED: { status: 400, message: "The request does not match its contract" },
  BAD_FRAME: { status: 400, message: "The WebSocket frame is not valid" },
  FRAME_TOO_LARGE: { status: 413, message: "The frame exceeds the size limit" },
  UNKNOWN_METHOD: { status: 404, message: "No such method" },
  UNAUTHENTICATED: { status: 401, message: "Sign in first" },
  INVALID_CREDENTIALS: { status: 401, message: "Wrong user name or password" },
  SESSION_EXPIRED: { status: 401, message: "The session has expired" },
  ACCOUNT_DISABLED: { status: 403, message: "The account is disabled" },
  FORBIDDEN: { status: 403, message: "Not allowed" },
  FORBIDDEN_EDGE: { status: 403, message: "This service may not call that service" },
  NOT_FOUND: { status: 404, message: "Not found" },
  CONFLICT: { status: 409, message: "Conflicts with the current state" },
  REVISION_AHEAD: { status: 409, message: "The base revision is newer than the playlist's" },
  GONE: { status: 410, message: "It was deleted" },
  BAD_OPERATION: { status: 422, message: "The operation cannot apply to this playlist" },
  ALREADY_EXISTS: { status: 409, message: "Already exists" },
  SETUP_REQUIRED: { status: 409, message: "No administrator exists yet" },
  SETUP_DONE: { status: 409, message: "An administrator already exists" },
  BAD_EVENT: { status: 422, message: "The event does not match its schema" },
  EVENT_TIME_OUT_OF_RANGE: {
    status: 422,
    message: "The event's time is too far in the future, or too old to be told from a duplicate",
  },
  SCROBBLING_NOT_CONFIGURED: {
    status: 503,
    message: "Last.fm scrobbling needs the server's Last.fm API key and secret (see the configuration)",
  },
  SCROBBLE_TOKEN_REJECTED: { status: 422, message: "The scrobbling service refused the token" },
  SCROBBLE_NOT_APPROVED: { status: 409, message: "Approve soundmesh on Last.fm first, then finish" },
  INDEX_NOT_BUILT: {
    status: 503,
    message: "The radio index has not been built yet; try again after its first build",
  },
  UNPLAYABLE: { status: 422, message: "The track cannot be decoded" },
  RANGE_NOT_SATISFIABLE: { status: 416, message: "The requested range cannot be served" },
  RATE_LIMITED: { status: 429, message: "Too many requests; slow down" },
  LOGIN_THROTTLED: { status: 429, message: "Too many failed sign-ins; wait before trying again" },
  BUSY: { status: 503, message: "The server is busy; try again in a few seconds" },
  TIMEOUT: { status: 504, message: "The service did not answer in time" },
  UNAVAILABLE: { status: 503, message: "The service is not available" },
  DEPENDENCY_MISSING: { status: 503, message: "A required program is not installed" },
  LIBRARY_NOT_RECORDED: {
    status: 409,
    message: "That folder is not one of the server's library folders; add it or replace them explicitly",
  },
  LIBRARY_UNAVAILABLE: {
    status: 503,
    message: "A library folder is missing, unreadable or empty (an unmounted disk?); nothing was removed",
  },
  MASS_REMOVAL_REFUSED: {
    status: 409,
    message: "The scan would remove too many tracks at once; confirm to go ahead",
  },
  INTERNAL: { status: 500, message: "Internal error" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;
export const errorCodes = Object.keys(errorCatalog) as [ErrorCode, ...ErrorCode[]];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(errorCatalog, value);
}

export function httpStatusOf(code: ErrorCode): number {
  return errorCatalog[code].status;
}

export interface AppErrorOptions {
  details?: unknown;
  cause?: unknown;
}

/** The error every layer throws; it travels over the bus as {code, message, details}. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, options: AppErrorOptions = {}) {
    super(
      message ?? errorCatalog[code].message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "AppError";
    this.code = code;
    this.details = options.details;
  }

  get status(): number {
    return httpStatusOf(this.code);
  }

  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromWire(wire: WireError): AppError {
    return new AppError(isErrorCode(wire.code) ? wire.code : "INTERNAL", wire.message, {
      details: wire.details,
    });
  }
}

export interface WireError {
  code: string;
  message: string;
  details?: unknown;
}

/** Turns anything thrown into an AppError; unknown errors become INTERNAL with no internals exposed. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError("INTERNAL", errorCatalog.INTERNAL.message, { cause: error });
}

/** One failed check of a schema, as `details` carries it: where (dotted path, "" for the root) and what. */
export interface IssueDetail {
  path: string;
  message: string;
}

/**
 * A zod error's issues as error details, for every boundary that refuses input (bus, WebSocket, HTTP, config);
 * `max` bounds how many are sent back.
 */
export function issueDetails(
  error: { issues: ReadonlyArray<{ path: readonly PropertyKey[]; message: string }> },
  max = Number.POSITIVE_INFINITY,
): IssueDetail[] {
  return error.issues
    .slice(0, max)
    .map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
}

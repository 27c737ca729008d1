// Subsonic's error codes with the spec's texts, and how our typed errors map onto them.
import { toAppError, type ErrorCode } from "@soundmesh/protocol";

export const subsonicErrorTexts = {
  0: "A generic error.",
  10: "Required parameter is missing.",
  20: "Incompatible Subsonic REST protocol version. Client must upgrade.",
  30: "Incompatible Subsonic REST protocol version. Server must upgrade.",
  40: "Wrong username or password.",
  41: "Token authentication not supported for LDAP users.",
  42: "Provided authentication mechanism not supported.",
  43: "Multiple conflicting authentication mechanisms provided.",
  44: "Invalid API key.",
  50: "User is not authorized for the given operation.",
  70: "The requested data was not found.",
} as const;

export type SubsonicErrorCode = keyof typeof subsonicErrorTexts;

/** An error a Subsonic client is answered with (HTTP 200, status "failed"), never a 500. */
export class SubsonicError extends Error {
  constructor(
    readonly code: SubsonicErrorCode,
    message?: string,
  ) {
    super(message ?? subsonicErrorTexts[code]);
    this.name = "SubsonicError";
  }
}

const fromAppCode: Partial<Record<ErrorCode, SubsonicErrorCode>> = {
  VALIDATION_FAILED: 0,
  BAD_REQUEST: 0,
  UNAUTHENTICATED: 40,
  INVALID_CREDENTIALS: 40,
  SESSION_EXPIRED: 44,
  ACCOUNT_DISABLED: 40,
  LOGIN_THROTTLED: 40,
  FORBIDDEN: 50,
  NOT_FOUND: 70,
  GONE: 70,
};

/** Turns anything thrown by a handler or a service into the Subsonic error a client gets; `isInternal` gets logged. */
export function subsonicErrorOf(error: unknown): { error: SubsonicError; isInternal: boolean } {
  if (error instanceof SubsonicError) return { error, isInternal: false };
  const appError = toAppError(error);
  const code = fromAppCode[appError.code];
  if (code !== undefined) {
    const text = code === 0 ? appError.message : `${subsonicErrorTexts[code]} ${appError.message}`;
    return { error: new SubsonicError(code, text), isInternal: false };
  }
  const isInternal = appError.code === "INTERNAL";
  return {
    error: new SubsonicError(0, isInternal ? "Internal error" : appError.message),
    isInternal,
  };
}

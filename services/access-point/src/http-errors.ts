// Turns AppErrors into application/problem+json replies; the only place that knows HTTP statuses of errors.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { AppError, toAppError } from "@soundmesh/protocol";

export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  const body: Record<string, unknown> = {
    type: "about:blank",
    title: error.message,
    status: error.status,
    code: error.code,
  };
  if (error.details !== undefined) body.details = error.details;
  return reply.status(error.status).type("application/problem+json").send(body);
}

/** Maps Fastify's own errors (bad JSON, body too large, schema) and unknown errors onto the catalogue. */
export function installErrorHandler(
  app: FastifyInstance,
  logger: Logger,
  /** Gets the first word on unknown routes (the web app's client-side routes); undefined means "not mine". */
  fallback?: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined,
): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      // A refusal that knows when to come back says so, as HTTP clients read it.
      const retryAfter = (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
      if (typeof retryAfter === "number") reply.header("retry-after", String(retryAfter));
      return sendProblem(reply, error);
    }
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return sendProblem(reply, new AppError("FRAME_TOO_LARGE", "The body is too large"));
    if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, new AppError("BAD_REQUEST", error.message));
    }
    logger.error({ err: error, reqId: request.id }, "request failed");
    return sendProblem(reply, toAppError(error));
  });
  app.setNotFoundHandler(
    (request, reply) =>
      fallback?.(request, reply) ??
      sendProblem(
        reply,
        new AppError("NOT_FOUND", `No route ${request.method} ${request.url.split("?")[0]}`),
      ),
  );
}

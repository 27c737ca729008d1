// Album art over HTTP for the player: resized by the catalog, cached by the browser.
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { AppError, catalogContract, entityId } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import type { IdentityCache } from "./auth";

const coverParams = z.object({ albumId: entityId });
const coverQuery = z.object({ size: z.enum(["64", "300", "600"]).default("300") });

export function registerCoverRoute(app: FastifyInstance, bus: ServiceBus, identities: IdentityCache): void {
  app.get("/api/cover/:albumId", async (request, reply) => {
    await identities.authenticate(bus, request);
    const params = coverParams.safeParse(request.params);
    const query = coverQuery.safeParse(request.query);
    if (!params.success || !query.success)
      throw new AppError("VALIDATION_FAILED", "A cover is addressed by album id and size 64, 300 or 600");
    const size = Number(query.data.size) as 64 | 300 | 600;
    const cover = await bus.request(
      catalogContract,
      "cover",
      { albumId: params.data.albumId, size },
      { traceId: request.id },
    );
    return reply
      .header("content-type", cover.mimeType)
      .header("cache-control", "private, max-age=86400")
      .send(Buffer.from(cover.bytes.buffer, cover.bytes.byteOffset, cover.bytes.byteLength));
  });
}

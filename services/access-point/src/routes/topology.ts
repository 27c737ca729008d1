// The topology area: the same data as the admin page, as JSON for scripts; administrators only.
import type { FastifyPluginCallback } from "fastify";
import { historySubject, topologyContract } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import type { ZodTypeProvider } from "../route-schemas";

const historyQuery = historySubject.describe("Ask for ?edge=<source->target> or ?service=<name>");

export const topologyRoutes: FastifyPluginCallback<{ bus: ServiceBus }> = (scope, { bus }, done) => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const config = { auth: { adminsOnly: "The topology is for administrators" } };
  app.get("/api/topology", { config }, async (request) =>
    bus.request(topologyContract, "snapshot", {}, { traceId: request.id }),
  );
  app.get("/api/topology/history", { schema: { querystring: historyQuery }, config }, async (request) =>
    bus.request(topologyContract, "history", request.query, { traceId: request.id }),
  );
  done();
};

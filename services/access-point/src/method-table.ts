// Which service methods clients may call over the WebSocket: the exposed methods of the contracts given.
import type { MethodContract, ServiceContract } from "@soundmesh/protocol";

export interface ExposedMethod {
  contract: ServiceContract;
  method: string;
  definition: MethodContract;
}

/** Keys are "service.method", the `method` field of a `req` frame. */
export function buildMethodTable(contracts: readonly ServiceContract[]): Map<string, ExposedMethod> {
  const table = new Map<string, ExposedMethod>();
  for (const contract of contracts) {
    for (const [method, definition] of Object.entries(contract.methods)) {
      if (definition.exposed) table.set(`${contract.service}.${method}`, { contract, method, definition });
    }
  }
  return table;
}

import type { ClientDefinition } from "../clients";
import type { FaultVerdict, RouteGroup } from "../faults";
import type { RequestLogEntry } from "../request-log";

/** What the simulator tracks for each request as it passes the hooks. */
export interface RequestState {
  client: ClientDefinition | null;
  fault: FaultVerdict;
  logEntry: RequestLogEntry | null;
  bodyBytes: number;
}

declare module "fastify" {
  interface FastifyRequest {
    sim: RequestState;
  }
  interface FastifyContextConfig {
    /** Fault scopes this route belongs to; routes without groups never get faults or log entries. */
    groups?: RouteGroup[];
  }
}

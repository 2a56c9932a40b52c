import type { ContractRuntime } from "@esign/contracts";
import type { SigningClient } from "@esign/jobs";
import type { StoreRegistry } from "@esign/storage";
import type { Redis } from "ioredis";
import type { ApiConfig } from "../config";

/** What the routes need from the outside world; built once in app.ts. */
export interface RouteDeps {
  config: ApiConfig;
  client: SigningClient;
  stores: StoreRegistry;
  redis: Redis;
  /** The e-contract engine; undefined when e-contracts are off (no ESIGN_CONTRACT_SECRET). */
  contracts: ContractRuntime | undefined;
}

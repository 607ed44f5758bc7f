// The Agent API contract suite (agent-contract-suite.ts) on the Docker Engine
// API runtime: the ground's podman service (test/ground/docker-engine.ts).
// Skipped, with the reason, where the ground has no such service.
import { dockerLeg } from "../support/agent-runtimes.js";
import { agentContractSuite } from "./agent-contract-suite.js";

agentContractSuite(dockerLeg());

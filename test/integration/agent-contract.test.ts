// The Agent API contract suite (agent-contract-suite.ts) on the Kubernetes
// runtime: the ground's API server and kwok's node.
import { kubernetesLeg } from "../support/agent-runtimes.js";
import { agentContractSuite } from "./agent-contract-suite.js";

agentContractSuite(kubernetesLeg());

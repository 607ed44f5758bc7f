// The ground's ingress controller: Traefik v3 in kube-system, laid out the way
// K3s's bundled traefik chart lays it out (names, labels, IngressClass,
// entry points, the kubernetesIngress provider, a non-root read-only pod), so
// the chart's Ingress and its NetworkPolicy meet what they meet on K3s. It
// runs on the real node; its Service is a NodePort, which kube-proxy answers
// on the host's loopback only (node-config.ts: nodePortAddresses). K3s puts a
// LoadBalancer (ServiceLB) in front instead; the ground has no load balancer
// and must not take the host's ports 80 and 443.
import { execa } from "execa";
import { manifestExists } from "../../src/adapters/image/registry.js";
import { stringify } from "yaml";
import { REAL_NODE_SCHEDULING } from "./node-config.js";

export const INGRESS_NAMESPACE = "kube-system";
/** The Deployment, Service and ServiceAccount are called this on K3s. */
export const TRAEFIK_NAME = "traefik";
export const INGRESS_CLASS = "traefik";
export const INGRESS_CONTROLLER = "traefik.io/ingress-controller";
/**
 * The labels of K3s's Traefik (Helm release `traefik` in kube-system). A
 * NetworkPolicy that admits the ingress controller selects its pods by these,
 * in the namespace kube-system.
 */
export const TRAEFIK_LABELS = {
  "app.kubernetes.io/name": "traefik",
  "app.kubernetes.io/instance": "traefik-kube-system",
} as const;

/** Container ports, the chart's defaults: unprivileged, so no capability is needed to bind them. */
const PORTS = { web: 8000, websecure: 8443, traefik: 8080, metrics: 9100 } as const;

/**
 * Arguments of the traefik container: K3s's, less two. No
 * --providers.kubernetescrd: the ground installs no Traefik CRDs and the
 * chart uses plain Ingress. No --api.dashboard: the Go module carries no
 * built web UI, and nothing would route to it.
 */
export function traefikArgs(): string[] {
  return [
    // Pods of the ground cannot leave the machine; nothing to check or report.
    "--global.checknewversion=false",
    "--global.sendanonymoususage=false",
    `--entrypoints.web.address=:${PORTS.web}/tcp`,
    `--entrypoints.websecure.address=:${PORTS.websecure}/tcp`,
    // TLS on websecure for every router, with Traefik's generated default
    // certificate unless an Ingress names a Secret.
    "--entrypoints.websecure.http.tls=true",
    // Routers without entry points get every non-internal one, which would
    // include metrics; only web and websecure serve Ingresses.
    "--entrypoints.web.asdefault=true",
    "--entrypoints.websecure.asdefault=true",
    // The internal entry point: /ping for the probes.
    `--entrypoints.traefik.address=:${PORTS.traefik}/tcp`,
    "--ping=true",
    `--entrypoints.metrics.address=:${PORTS.metrics}/tcp`,
    "--metrics.prometheus=true",
    "--metrics.prometheus.entrypoint=metrics",
    "--providers.kubernetesingress=true",
    // As on K3s: Ingress status is copied from this Service. For a NodePort
    // Service that is the nodes' ExternalIPs, which the ground's nodes lack,
    // so the status stays empty; the host reaches Traefik on loopback.
    `--providers.kubernetesingress.ingressendpoint.publishedservice=${INGRESS_NAMESPACE}/${TRAEFIK_NAME}`,
    // One line per request on stdout: `kubectl logs` shows what came through.
    "--accesslog=true",
    "--log.level=INFO",
    // Plain text: `kubectl logs` and log tails are read by people and tests, not terminals.
    "--log.nocolor=true",
  ];
}

/** ServiceAccount, RBAC, Deployment, Service and the default IngressClass, in apply order. */
export function ingressManifests(image: string): object[] {
  const labels = { ...TRAEFIK_LABELS };
  const metadata = (name: string, namespaced = true) => ({ name, ...(namespaced ? { namespace: INGRESS_NAMESPACE } : {}), labels });
  // K3s names the cluster-scoped objects after release and namespace.
  const clusterName = `${TRAEFIK_NAME}-${INGRESS_NAMESPACE}`;
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: metadata(TRAEFIK_NAME) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: metadata(clusterName, false),
      // What the kubernetesIngress provider reads (its informers), and the
      // Ingress status it writes; nodes for a NodePort published Service.
      rules: [
        { apiGroups: [""], resources: ["services", "secrets", "nodes"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
        { apiGroups: ["networking.k8s.io"], resources: ["ingresses", "ingressclasses"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["networking.k8s.io"], resources: ["ingresses/status"], verbs: ["update"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: metadata(clusterName, false),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterName },
      subjects: [{ kind: "ServiceAccount", name: TRAEFIK_NAME, namespace: INGRESS_NAMESPACE }],
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: metadata(TRAEFIK_NAME),
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        // The chart's: a new pod is Ready before the old one goes.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: {
          metadata: {
            labels,
            annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(PORTS.metrics), "prometheus.io/path": "/metrics" },
          },
          spec: {
            serviceAccountName: TRAEFIK_NAME,
            priorityClassName: "system-cluster-critical",
            ...REAL_NODE_SCHEDULING,
            enableServiceLinks: false,
            // Traefik drains for up to 10 s (its default graceTimeOut) on SIGTERM.
            terminationGracePeriodSeconds: 30,
            // Pod Security "restricted": non-root, RuntimeDefault seccomp,
            // no privilege escalation, no capabilities, read-only root.
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
            containers: [
              {
                name: TRAEFIK_NAME,
                image,
                imagePullPolicy: "IfNotPresent",
                args: traefikArgs(),
                ports: Object.entries(PORTS).map(([name, containerPort]) => ({ name, containerPort, protocol: "TCP" })),
                readinessProbe: {
                  httpGet: { path: "/ping", port: PORTS.traefik },
                  periodSeconds: 2,
                  timeoutSeconds: 2,
                  failureThreshold: 1,
                },
                livenessProbe: {
                  httpGet: { path: "/ping", port: PORTS.traefik },
                  initialDelaySeconds: 2,
                  periodSeconds: 10,
                  timeoutSeconds: 2,
                  failureThreshold: 3,
                },
                resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"] },
                },
                // The chart's writable places: /data (ACME storage) and /tmp (plugins, uploads).
                volumeMounts: [
                  { name: "data", mountPath: "/data" },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "data", emptyDir: {} },
              { name: "tmp", emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(TRAEFIK_NAME),
      spec: {
        // nodePort is left to the API server: it keeps the one it allocated
        // when the Service is applied again, and startIngress reads it back.
        type: "NodePort",
        externalTrafficPolicy: "Cluster",
        selector: labels,
        ports: [
          { name: "web", port: 80, targetPort: "web", protocol: "TCP" },
          { name: "websecure", port: 443, targetPort: "websecure", protocol: "TCP" },
        ],
      },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "IngressClass",
      metadata: { ...metadata(INGRESS_CLASS, false), annotations: { "ingressclass.kubernetes.io/is-default-class": "true" } },
      spec: { controller: INGRESS_CONTROLLER },
    },
  ];
}

export interface StartIngressOptions {
  /** The ground's kubectl binary. */
  kubectl: string;
  /** An admin kubeconfig of the ground. */
  kubeconfig: string;
  /** What ensureTraefikImage returned. */
  image: string;
  /** How long the rollout and the first answer on the NodePort may take; default 120 s. */
  timeoutMs?: number;
}

export interface GroundIngress {
  /** Plain HTTP through the web entry point: http://127.0.0.1:<nodePort>. */
  httpUrl: string;
  /** TLS through websecure, with Traefik's self-signed default certificate: https://127.0.0.1:<nodePort>. */
  httpsUrl: string;
  nodePorts: { web: number; websecure: number };
  namespace: typeof INGRESS_NAMESPACE;
  ingressClass: typeof INGRESS_CLASS;
  /** Labels of Traefik's pods, for NetworkPolicy peers (with namespace kube-system). */
  podLabels: typeof TRAEFIK_LABELS;
}

/**
 * Applies Traefik (idempotent), waits for its rollout, and returns once the
 * host gets an answer from it through the web NodePort on loopback.
 */
export async function startIngress(o: StartIngressOptions): Promise<GroundIngress> {
  const timeoutMs = o.timeoutMs ?? 120_000;
  const env = { KUBECONFIG: o.kubeconfig };
  const kubectl = (args: string[], input?: string) => execa(o.kubectl, args, { env, ...(input === undefined ? {} : { input }) });
  await kubectl(
    ["apply", "--server-side", "--force-conflicts", "--field-manager=ground-ingress", "-f", "-"],
    ingressManifests(o.image)
      .map((m) => stringify(m))
      .join("---\n"),
  );
  await kubectl(["-n", INGRESS_NAMESPACE, "rollout", "status", `deployment/${TRAEFIK_NAME}`, `--timeout=${Math.ceil(timeoutMs / 1000)}s`]);
  const { stdout } = await kubectl(["-n", INGRESS_NAMESPACE, "get", "service", TRAEFIK_NAME, "-o", "json"]);
  const service = JSON.parse(stdout) as { spec: { ports: { name: string; nodePort?: number }[] } };
  const nodePort = (name: string): number => {
    const port = service.spec.ports.find((p) => p.name === name)?.nodePort;
    if (!port) throw new Error(`service ${INGRESS_NAMESPACE}/${TRAEFIK_NAME} has no nodePort for ${name}`);
    return port;
  };
  const ingress: GroundIngress = {
    httpUrl: `http://127.0.0.1:${nodePort("web")}`,
    httpsUrl: `https://127.0.0.1:${nodePort("websecure")}`,
    nodePorts: { web: nodePort("web"), websecure: nodePort("websecure") },
    namespace: INGRESS_NAMESPACE,
    ingressClass: INGRESS_CLASS,
    podLabels: TRAEFIK_LABELS,
  };
  // A Ready pod is not yet a working path: kube-proxy programs the NodePort
  // a moment after the endpoint appears. Only Traefik is behind this port,
  // so any HTTP answer is its answer (404 for a host no Ingress names).
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const response = await fetch(`${ingress.httpUrl}/`, { signal: AbortSignal.timeout(3_000) });
      await response.arrayBuffer();
      return ingress;
    } catch (error) {
      last = error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ""}` : String(error);
    }
    if (Date.now() > deadline) throw new Error(`Traefik did not answer on ${ingress.httpUrl} within ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Traefik from the Go build (build-binaries.sh), as an image of one static
 * binary run as 65532, pushed to the ground's registry: what the kubelet
 * runs comes from a registry, as on any cluster. Built once per version.
 */
export async function ensureTraefikImage(o: {
  registry: string;
  binary: string;
  version: string;
  env: Record<string, string>;
}): Promise<string> {
  const image = `${o.registry}/ground/traefik:${o.version}`;
  if (await manifestExists(image)) return image;
  process.stderr.write(`[ground] building ${image}\n`);
  const buildah = (...args: string[]) => execa("buildah", args, { env: o.env });
  const container = (await buildah("from", "scratch")).stdout.trim();
  try {
    await buildah("copy", "--chmod", "0755", container, o.binary, "/traefik");
    await buildah(
      "config",
      "--entrypoint",
      '["/traefik"]',
      "--cmd",
      "",
      "--user",
      "65532:65532",
      "--port",
      `${PORTS.web}/tcp`,
      "--port",
      `${PORTS.websecure}/tcp`,
      "--label",
      `org.opencontainers.image.version=${o.version}`,
      "--label",
      "org.opencontainers.image.title=ground traefik",
      container,
    );
    await buildah("commit", "--rm", container, image);
  } catch (error) {
    await buildah("rm", container).catch(() => {});
    throw error;
  }
  await buildah("push", "--tls-verify=false", image, `docker://${image}`);
  return image;
}

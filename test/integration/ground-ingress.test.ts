// The ground's ingress controller is a real one, laid out as on K3s: Traefik
// in kube-system routes a Host to a pod on the real node through the default
// IngressClass, answers 404 for a host it does not know, serves websecure
// with TLS, logs each request, runs under Pod Security "restricted", and a
// NetworkPolicy that admits only kube-system's Traefik pods lets Traefik in
// and keeps everything else out. This is what the chart's Ingress and its
// NetworkPolicy rely on. Without a real node every test here is skipped with
// the reason.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { INGRESS_CLASS, INGRESS_NAMESPACE, TRAEFIK_LABELS, TRAEFIK_NAME } from "../ground/ingress.js";
import { REAL_NODE_NAME, REAL_NODE_SCHEDULING } from "../ground/node-config.js";
import { eventually, groundEnv, kubectl, kubectlJson, uniqueName } from "../support/cluster.js";
import { groundImage, realNodeMissing, requireRealNode, tcpProbe } from "../support/real-node.js";

const app = uniqueName("ingress-echo");
const other = uniqueName("ingress-other");
const restricted = uniqueName("ingress-psa");
const host = `echo.${app}.ground.test`;
// In every answer of the echo server, so no other server's 200 passes for it.
const marker = `echo-${app}`;

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { podIP?: string; phase?: string };
}

async function apply(objects: object[]): Promise<void> {
  await kubectl(["apply", "-f", "-"], { input: objects.map((o) => stringify(o)).join("---\n") });
}

/** nginx on the real node answering every path with what it was sent. */
function echoManifests(): object[] {
  const labels = { app: "echo" };
  const site = [
    "server {",
    "  listen 8080;",
    // Every request on a new connection: Traefik pools connections to its
    // backends, and netfilter lets established ones through whatever a
    // NetworkPolicy says now, so a kept-alive connection would hide a change.
    "  keepalive_timeout 0;",
    "  location / {",
    "    default_type text/plain;",
    `    return 200 "${marker} host=$host forwarded-server=$http_x_forwarded_server forwarded-proto=$http_x_forwarded_proto\\n";`,
    "  }",
    "}",
    "",
  ].join("\n");
  return [
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "echo-site", namespace: app }, data: { "default.conf": site } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "echo", namespace: app, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            ...REAL_NODE_SCHEDULING,
            containers: [
              {
                name: "nginx",
                image: groundImage("NGINX"),
                ports: [{ name: "http", containerPort: 8080 }],
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
                volumeMounts: [{ name: "site", mountPath: "/etc/nginx/conf.d", readOnly: true }],
              },
            ],
            volumes: [{ name: "site", configMap: { name: "echo-site" } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "echo", namespace: app },
      spec: { selector: labels, ports: [{ name: "http", port: 80, targetPort: "http" }] },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      // No ingressClassName: the API server's DefaultIngressClass admission fills in the default class.
      metadata: { name: "echo", namespace: app },
      spec: {
        rules: [
          { host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "echo", port: { name: "http" } } } }] } },
        ],
      },
    },
  ];
}

/** The policy the chart needs for K3s: only kube-system's pods with Traefik's name label reach the echo pod. */
function onlyIngressController(podLabels: Record<string, string>): object {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "only-ingress-controller", namespace: app },
    spec: {
      podSelector: { matchLabels: { app: "echo" } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": INGRESS_NAMESPACE } },
              podSelector: { matchLabels: podLabels },
            },
          ],
          ports: [{ protocol: "TCP", port: 8080 }],
        },
      ],
    },
  };
}

interface Answer {
  status: number;
  body: string;
  /** Common name of the server certificate, for https. */
  subject?: string;
}

/**
 * GET with the given Host (and SNI for https). Not fetch: Node's fetch treats
 * Host as a forbidden header and sends the URL's host instead, so Traefik
 * would never see the name. Traefik's default certificate is self-signed.
 */
function get(url: string, hostHeader: string, timeoutMs = 10_000): Promise<Answer> {
  const tls = url.startsWith("https:");
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(
      url,
      { headers: { Host: hostHeader }, timeout: timeoutMs, ...(tls ? { servername: hostHeader, rejectUnauthorized: false } : {}) },
      (res) => {
        const subject = tls ? String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? "") : undefined;
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, ...(subject === undefined ? {} : { subject }) }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

function throughIngress(hostHeader: string, path = "/some/path", timeoutMs?: number): Promise<Answer> {
  return get(`${groundEnv("GROUND_INGRESS_URL")}${path}`, hostHeader, timeoutMs);
}

async function runningPod(namespace: string, selector: string): Promise<Pod> {
  return eventually(`a running pod ${selector} in ${namespace}`, async () => {
    const list = await kubectlJson<{ items: Pod[] }>(["-n", namespace, "get", "pods", "-l", selector]);
    const running = list.items.filter((p) => p.status.phase === "Running" && p.status.podIP);
    return running.length === 1 ? running[0] : undefined;
  });
}

beforeAll(async () => {
  if (realNodeMissing()) return;
  for (const ns of [app, other, restricted]) await kubectl(["create", "namespace", ns]);
  await kubectl(["label", "namespace", restricted, "pod-security.kubernetes.io/enforce=restricted"]);
  // Pods (even dry-run ones) need the default ServiceAccount, made a moment after the namespace.
  await eventually(
    "the default ServiceAccount",
    async () => (await kubectl(["-n", restricted, "get", "serviceaccount", "default"], { reject: false })).exitCode === 0,
  );
  await apply(echoManifests());
  // A client in another namespace, to show what the policy keeps out.
  const client = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "client", namespace: other, labels: { app: "client" } },
    spec: {
      ...REAL_NODE_SCHEDULING,
      terminationGracePeriodSeconds: 0,
      containers: [{ name: "client", image: groundImage("PYTHON"), command: ["sleep", "3600"] }],
    },
  };
  // The namespace's default ServiceAccount appears a moment after the namespace.
  await eventually("the client pod to be created", async () => {
    await apply([client]);
    return true;
  });
  await kubectl(["-n", app, "rollout", "status", "deployment/echo", "--timeout=120s"]);
  await kubectl(["-n", other, "wait", "--for=condition=Ready", "pod/client", "--timeout=120s"]);
});

afterAll(async () => {
  if (realNodeMissing()) return;
  for (const ns of [app, other, restricted])
    await kubectl(["delete", "namespace", ns, "--wait=false", "--ignore-not-found"], { reject: false });
});

describe("the ground's ingress controller (Traefik, as on K3s)", () => {
  beforeEach((ctx) => requireRealNode(ctx));

  it("routes a Host through the default IngressClass to a pod on the real node", async () => {
    const ingress = await kubectlJson<{ spec: { ingressClassName?: string } }>(["-n", app, "get", "ingress", "echo"]);
    expect(ingress.spec.ingressClassName, "the default IngressClass is filled in on create").toBe(INGRESS_CLASS);
    const echo = await runningPod(app, "app=echo");
    expect(echo.spec.nodeName).toBe(REAL_NODE_NAME);
    // Traefik picks the Ingress up within its provider's throttle (about a second).
    const answer = await eventually("the echo pod to answer through Traefik", async () => {
      const r = await throughIngress(host);
      return r.status === 200 ? r : undefined;
    });
    expect(answer.body).toContain(marker);
    expect(answer.body).toContain(`host=${host} `);
    // Set by Traefik to its own host name, the pod's name.
    expect(answer.body).toMatch(new RegExp(`forwarded-server=${TRAEFIK_NAME}-[a-z0-9]+-[a-z0-9]+ forwarded-proto=http`));
  });

  it("answers 404 for a host no Ingress names", async () => {
    const answer = await throughIngress(`nobody.${app}.ground.test`);
    expect(answer.status).toBe(404);
    expect(answer.body).toBe("404 page not found\n");
  });

  it("serves the same route with TLS on websecure", async (ctx) => {
    const httpsUrl = process.env.GROUND_INGRESS_HTTPS_URL;
    ctx.skip(!httpsUrl, "GROUND_INGRESS_HTTPS_URL is not exported by the ground");
    const answer = await eventually("the echo pod to answer through websecure", async () => {
      const r = await get(`${httpsUrl}/`, host);
      return r.status === 200 ? r : undefined;
    });
    expect(answer.body).toContain(`${marker} host=${host} `);
    expect(answer.body).toContain("forwarded-proto=https");
    expect(answer.subject).toBe("TRAEFIK DEFAULT CERT");
  });

  it("writes an access log line for each request", async () => {
    // Traefik leaves request headers out of its access log by default; the path is in it.
    const path = `/log-check/${app}`;
    expect((await throughIngress(host, path)).status).toBe(200);
    const line = await eventually("the request in Traefik's access log", async () => {
      const { stdout } = await kubectl(["-n", INGRESS_NAMESPACE, "logs", `deployment/${TRAEFIK_NAME}`, "--since=5m"]);
      return stdout.split("\n").find((l) => l.includes(path));
    });
    expect(line).toContain(`"GET ${path} HTTP/1.1" 200`);
    // The router's name is derived from the Ingress's namespace and name.
    expect(line).toContain(`${app}-echo`);
  });

  it('runs as Pod Security "restricted" allows (a pod loosened by one field is refused)', async () => {
    const deployment = await kubectlJson<{
      spec: { template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } };
    }>(["-n", INGRESS_NAMESPACE, "get", "deployment", TRAEFIK_NAME]);
    // The pod as it runs, checked by the API server's PodSecurity admission
    // in a namespace that enforces "restricted" (a dry run: nothing is created).
    // The priority class and the service account belong to kube-system only.
    const spec = { ...deployment.spec.template.spec };
    delete spec.priorityClassName;
    delete spec.serviceAccountName;
    delete spec.serviceAccount;
    const pod = (podSpec: object) =>
      stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "traefik-restricted", namespace: restricted }, spec: podSpec });
    const allowed = await kubectl(["create", "--dry-run=server", "-f", "-"], { input: pod(spec), reject: false });
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    // The same pod with one container allowed to escalate is refused: the check is real.
    const [container, ...rest] = deployment.spec.template.spec.containers;
    const loosened = {
      ...spec,
      containers: [
        { ...container, securityContext: { ...(container?.securityContext as object), allowPrivilegeEscalation: true } },
        ...rest,
      ],
    };
    const refused = await kubectl(["create", "--dry-run=server", "-f", "-"], { input: pod(loosened), reject: false });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('violates PodSecurity "restricted');
  });

  it("lets Traefik through a NetworkPolicy that admits only kube-system's Traefik pods, and keeps another namespace out", async () => {
    const echo = await runningPod(app, "app=echo");
    const ip = echo.status.podIP as string;
    // Before the policy, the client reaches the pod: a refusal later is the policy's doing.
    expect(await tcpProbe(other, "client", "client", ip, 8080)).toBe("open");

    await apply([onlyIngressController({ "app.kubernetes.io/name": TRAEFIK_LABELS["app.kubernetes.io/name"] })]);
    const outcome = await eventually(
      "kube-router to shut the client out",
      async () => {
        const probe = await tcpProbe(other, "client", "client", ip, 8080, 2);
        return probe === "open" ? undefined : probe;
      },
      60_000,
    );
    expect(["refused", "timeout"]).toContain(outcome);
    for (let i = 0; i < 3; i++) {
      const answer = await throughIngress(host);
      expect(answer.status, answer.body).toBe(200);
      expect(answer.body).toContain(marker);
    }
  });

  it("shuts Traefik out too when the policy selects other kube-system pods", async () => {
    // Same policy, a label Traefik's pods do not carry: the 200 above was the
    // policy admitting Traefik, not the policy not applying to it.
    await apply([onlyIngressController({ "app.kubernetes.io/name": "not-traefik" })]);
    // Traefik answers 502 when the connection is refused and 504 when its dial times out (30 s).
    const status = await eventually(
      "Traefik to be shut out",
      async () => {
        const r = await throughIngress(host, "/", 45_000);
        return r.status === 502 || r.status === 504 ? r.status : undefined;
      },
      120_000,
    );
    expect([502, 504]).toContain(status);
  });
});

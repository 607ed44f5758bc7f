// The ground's PKI: one CA and one key pair that serves the API server, kwok
// and the admin client (group system:masters). The same RSA key signs
// service-account tokens, as kwokctl does. Made once per state directory.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";

export interface Pki {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

const SANS = [
  "IP:127.0.0.1",
  "IP:0:0:0:0:0:0:0:1",
  "IP:10.96.0.1",
  // The real node's bridge address, where the API server listens for pods.
  "IP:10.88.0.1",
  "DNS:localhost",
  "DNS:kubernetes",
  "DNS:kubernetes.default",
  "DNS:kubernetes.default.svc",
  "DNS:kubernetes.default.svc.cluster.local",
];

export async function ensurePki(dir: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pki: Pki = {
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    cert: join(dir, "admin.crt"),
    key: join(dir, "admin.key"),
  };
  // A PKI made before a SAN was added is made again: the API server would
  // present a certificate that in-cluster clients reject.
  const sansFile = join(dir, "sans.txt");
  const sansWanted = SANS.join(",");
  const sansMatch = existsSync(sansFile) && readFileSync(sansFile, "utf8").trim() === sansWanted;
  if (sansMatch && Object.values(pki).every((file) => existsSync(file))) return pki;
  for (const file of Object.values(pki)) rmSync(file, { force: true });

  const days = "3650";
  await execa("openssl", ["genrsa", "-out", pki.caKey, "2048"]);
  await execa("openssl", [
    "req",
    "-x509",
    "-new",
    "-key",
    pki.caKey,
    "-subj",
    "/CN=k8s-dev-sandbox-ground-ca",
    "-days",
    days,
    "-out",
    pki.caCert,
  ]);
  await execa("openssl", ["genrsa", "-out", pki.key, "2048"]);
  const ext = join(dir, "admin.ext");
  writeFileSync(
    ext,
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth,clientAuth",
      `subjectAltName=${SANS.join(",")}`,
      "",
    ].join("\n"),
  );
  const csr = join(dir, "admin.csr");
  await execa("openssl", ["req", "-new", "-key", pki.key, "-subj", "/O=system:masters/CN=kubernetes-admin", "-out", csr]);
  await execa("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    pki.caCert,
    "-CAkey",
    pki.caKey,
    "-CAcreateserial",
    "-days",
    days,
    "-extfile",
    ext,
    "-out",
    pki.cert,
  ]);
  writeFileSync(sansFile, `${sansWanted}\n`);
  return pki;
}

/**
 * A client certificate signed by the ground's CA, for a component that must
 * be a particular user: the kubelet (`system:node:<name>` in `system:nodes`,
 * which the Node authorizer recognises) or kube-proxy (`system:kube-proxy`).
 */
export async function ensureClientCert(pki: Pki, name: string, subject: string): Promise<{ cert: string; key: string }> {
  const dir = join(pki.caCert, "..");
  const out = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const subjectFile = join(dir, `${name}.subject`);
  const issuedBy = `${subject} ${createHash("sha256").update(readFileSync(pki.caCert)).digest("hex")}`;
  if (existsSync(out.cert) && existsSync(subjectFile) && readFileSync(subjectFile, "utf8") === issuedBy) return out;
  await execa("openssl", ["genrsa", "-out", out.key, "2048"]);
  const csr = join(dir, `${name}.csr`);
  await execa("openssl", ["req", "-new", "-key", out.key, "-subj", subject, "-out", csr]);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
  await execa("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    pki.caCert,
    "-CAkey",
    pki.caKey,
    "-CAcreateserial",
    "-days",
    "3650",
    "-extfile",
    ext,
    "-out",
    out.cert,
  ]);
  writeFileSync(subjectFile, issuedBy);
  return out;
}

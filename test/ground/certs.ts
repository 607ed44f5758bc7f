// The ground's PKI: one CA and one key pair that serves the API server, kwok
// and the admin client (group system:masters). The same RSA key signs
// service-account tokens, as kwokctl does. Made once per state directory.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
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
  if (Object.values(pki).every((file) => existsSync(file))) return pki;

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
  return pki;
}

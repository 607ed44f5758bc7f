// The stand-in for odoo:18.0 in the ground's registry, built once per registry.
import { resolve } from "node:path";
import { execa } from "execa";
import { tool } from "./cluster.js";

export async function ensureStandinBase(registry = process.env.REGISTRY): Promise<string> {
  if (!registry) throw new Error("REGISTRY is not set: run under the integration project (it starts the ground)");
  const image = `${registry}/standin/odoo:18.0`;
  const head = await fetch(`http://${registry}/v2/standin/odoo/manifests/18.0`, {
    method: "HEAD",
    headers: { Accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json" },
  });
  if (head.status === 200) return image;
  const dir = resolve("test/fixtures/standin-odoo");
  await execa(tool("BUILDAH"), ["build", "--layers", "-f", `${dir}/Dockerfile`, "-t", image, dir]);
  await execa(tool("BUILDAH"), ["push", "--tls-verify=false", image, `docker://${image}`]);
  return image;
}

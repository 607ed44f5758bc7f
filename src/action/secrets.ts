// Every form in which a kubeconfig's credentials could reach a log. The runner
// masks a registered value only where it appears whole, so each credential is
// registered on its own, decoded where the file holds it base64-encoded, and
// line by line where it is a multi-line PEM block.
import { parse } from "yaml";

/** User fields that hold a credential (client-go's names, and the auth-provider's config). */
const USER_SECRETS = ["token", "password", "client-key-data", "client-certificate-data"];
const PROVIDER_SECRETS = ["id-token", "refresh-token", "access-token", "client-secret"];
/** Shorter values are not worth masking: the runner would blank every such fragment in all output. */
const MIN_SECRET = 8;

export function kubeconfigSecrets(content: string | undefined): string[] {
  if (!content) return [];
  const secrets = new Set<string>([content]);
  const add = (value: unknown) => {
    if (typeof value !== "string" || value.trim().length < MIN_SECRET) return;
    secrets.add(value);
    secrets.add(value.trim());
    // Printed once base64-encoded (a Secret's data) or decoded (a *-data field read back).
    secrets.add(Buffer.from(value, "utf8").toString("base64"));
    const decoded = decodeBase64(value);
    if (decoded) {
      secrets.add(decoded);
      for (const line of decoded.split(/\r?\n/))
        if (line.trim().length >= MIN_SECRET && !line.startsWith("-----")) secrets.add(line.trim());
    }
  };
  try {
    const config = parse(content) as { users?: { user?: Record<string, unknown> }[] } | null;
    for (const entry of config?.users ?? []) {
      const user = entry?.user ?? {};
      for (const key of USER_SECRETS) add(user[key]);
      const provider = user["auth-provider"] as { config?: Record<string, unknown> } | undefined;
      for (const key of PROVIDER_SECRETS) add(provider?.config?.[key]);
      // An exec plugin's environment often carries a token or a cloud secret.
      const exec = user.exec as { env?: { name?: unknown; value?: unknown }[] } | undefined;
      for (const variable of exec?.env ?? []) add(variable?.value);
      // Basic auth goes over the wire as base64("user:password").
      if (typeof user.username === "string" && typeof user.password === "string") {
        secrets.add(Buffer.from(`${user.username}:${user.password}`).toString("base64"));
      }
    }
  } catch {
    // Not YAML: the whole content is still masked; connecting will report the problem.
  }
  return [...secrets].filter((s) => s.length >= MIN_SECRET || s === content);
}

/** The decoded text when `value` is valid base64 of printable text, else undefined. */
function decodeBase64(value: string): string | undefined {
  const compact = value.replace(/\s+/g, "");
  if (compact.length < MIN_SECRET || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  const decoded = Buffer.from(compact, "base64").toString("utf8");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: binary data is not a printable secret form
  return /[\u0000-\u0008\u000e-\u001f\ufffd]/.test(decoded) ? undefined : decoded;
}

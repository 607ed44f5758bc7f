// What a route handler gets and gives back, and the error and pagination
// shapes GitHub uses.
import type { Site } from "./factories-repo.js";
import type { StandinState } from "./state.js";

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RouteContext {
  site: Site;
  state: StandinState;
  /** Path parameters after validation and coercion (numbers are numbers). */
  params: Record<string, unknown>;
  /** Query parameters after validation, coercion and defaults. */
  query: Record<string, unknown>;
  body: unknown;
  /** The request URL as the client sent it, resolved against the stand-in. */
  url: URL;
  documentationUrl: string;
}

export type Handler = (context: RouteContext) => Reply;

export function errorBody(status: number, message: string, documentationUrl = "https://docs.github.com/rest"): Record<string, unknown> {
  return { message, documentation_url: documentationUrl, status: String(status) };
}

export function notFound(context: Pick<RouteContext, "documentationUrl">, message = "Not Found"): Reply {
  return { status: 404, body: errorBody(404, message, context.documentationUrl) };
}

export function forbidden(context: Pick<RouteContext, "documentationUrl">, message: string): Reply {
  return { status: 403, body: errorBody(403, message, context.documentationUrl) };
}

export interface FieldError {
  resource?: string;
  field?: string;
  code: string;
  message?: string;
}

export function validationFailed(documentationUrl: string, message: string, errors?: FieldError[]): Reply {
  const body: Record<string, unknown> = { message, documentation_url: documentationUrl, status: "422" };
  if (errors && errors.length > 0) body.errors = errors;
  return { status: 422, body };
}

/**
 * One page of a list, with the `Link` header GitHub sends (absolute URLs, so
 * Octokit's paginate can follow `rel="next"`).
 */
export function paginate<T>(context: RouteContext, items: T[], render: (item: T) => unknown): Reply {
  const perPage = Math.min(100, Math.max(1, Number(context.query.per_page ?? 30)));
  const page = Math.max(1, Number(context.query.page ?? 1));
  const lastPage = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const link = (target: number, rel: string): string => {
    const url = new URL(context.url.pathname + context.url.search, context.site.api);
    url.searchParams.set("per_page", String(perPage));
    url.searchParams.set("page", String(target));
    return `<${url.toString()}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page > 1) links.push(link(Math.min(page - 1, lastPage), "prev"));
  if (page < lastPage) links.push(link(page + 1, "next"), link(lastPage, "last"));
  if (page > 1) links.push(link(1, "first"));
  const headers: Record<string, string> = {};
  if (links.length > 0) headers.link = links.join(", ");
  return { status: 200, body: slice.map(render), headers };
}

export function created(location: string, body: unknown): Reply {
  return { status: 201, body, headers: { location } };
}

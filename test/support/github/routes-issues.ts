// Issue comments (the sticky status comment, slash-command replies) and the
// reactions the engine puts on command comments.
import { authorAssociation, issueComment, reactionObject } from "./factories-activity.js";
import { repoApi } from "./factories-repo.js";
import { created, type Handler, notFound, paginate, type RouteContext } from "./replies.js";
import { type CommentRecord, nextId, now, type ReactionContent, type StandinState } from "./state.js";

function issueExists(state: StandinState, issueNumber: number): boolean {
  return state.pullRequests.has(issueNumber) || state.issues.has(issueNumber);
}

function findComment(state: StandinState, id: number): CommentRecord | undefined {
  for (const list of state.comments.values()) {
    const found = list.find((c) => c.id === id);
    if (found) return found;
  }
  return undefined;
}

function render(context: RouteContext, comment: CommentRecord): unknown {
  const { site, state } = context;
  return issueComment(site, comment, {
    reactions: state.reactions.get(comment.id) ?? [],
    isPullRequest: state.pullRequests.has(comment.issueNumber),
    association: authorAssociation(site, comment.author, state.permissions.get(comment.author.toLowerCase())),
  });
}

const listComments: Handler = (context) => {
  const issueNumber = context.params.issue_number as number;
  if (!issueExists(context.state, issueNumber)) return notFound(context);
  const since = typeof context.query.since === "string" ? context.query.since : undefined;
  const comments = (context.state.comments.get(issueNumber) ?? []).filter((c) => !since || c.updatedAt >= since);
  return paginate(context, comments, (c) => render(context, c));
};

const createComment: Handler = (context) => {
  const issueNumber = context.params.issue_number as number;
  if (!issueExists(context.state, issueNumber)) return notFound(context);
  const timestamp = now();
  const comment: CommentRecord = {
    id: nextId(),
    issueNumber,
    body: (context.body as { body: string }).body,
    author: context.state.actor,
    createdAt: timestamp,
    updatedAt: timestamp,
  };
  const list = context.state.comments.get(issueNumber) ?? [];
  list.push(comment);
  context.state.comments.set(issueNumber, list);
  return created(`${repoApi(context.site)}/issues/comments/${comment.id}`, render(context, comment));
};

const getComment: Handler = (context) => {
  const comment = findComment(context.state, context.params.comment_id as number);
  return comment ? { status: 200, body: render(context, comment) } : notFound(context);
};

const updateComment: Handler = (context) => {
  const comment = findComment(context.state, context.params.comment_id as number);
  if (!comment) return notFound(context);
  comment.body = (context.body as { body: string }).body;
  comment.updatedAt = now();
  return { status: 200, body: render(context, comment) };
};

const deleteComment: Handler = (context) => {
  const comment = findComment(context.state, context.params.comment_id as number);
  if (!comment) return notFound(context);
  const list = context.state.comments.get(comment.issueNumber) ?? [];
  list.splice(list.indexOf(comment), 1);
  context.state.reactions.delete(comment.id);
  return { status: 204 };
};

const listReactions: Handler = (context) => {
  const commentId = context.params.comment_id as number;
  if (!findComment(context.state, commentId)) return notFound(context);
  const content = context.query.content;
  const reactions = (context.state.reactions.get(commentId) ?? []).filter((r) => content === undefined || r.content === content);
  return paginate(context, reactions, (r) => reactionObject(context.site, r));
};

const createReaction: Handler = (context) => {
  const commentId = context.params.comment_id as number;
  if (!findComment(context.state, commentId)) return notFound(context);
  const content = (context.body as { content: ReactionContent }).content;
  const list = context.state.reactions.get(commentId) ?? [];
  // Reacting twice with the same emoji is not an error: GitHub answers 200 with the existing reaction.
  const existing = list.find((r) => r.content === content && r.author === context.state.actor);
  if (existing) return { status: 200, body: reactionObject(context.site, existing) };
  const reaction = { id: nextId(), commentId, content, author: context.state.actor, createdAt: now() };
  list.push(reaction);
  context.state.reactions.set(commentId, list);
  return { status: 201, body: reactionObject(context.site, reaction) };
};

export const issueRoutes: Record<string, Handler> = {
  "GET /repos/{owner}/{repo}/issues/{issue_number}/comments": listComments,
  "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": createComment,
  "GET /repos/{owner}/{repo}/issues/comments/{comment_id}": getComment,
  "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}": updateComment,
  "DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}": deleteComment,
  "GET /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions": listReactions,
  "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions": createReaction,
};

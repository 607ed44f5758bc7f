// The controller's queue rules: per-sandbox serialization, supersede, the
// global limit, and that nothing enqueued is ever dropped unreported.
import { describe, expect, it } from "vitest";
import { type WorkItem, type WorkKind, WorkQueue } from "../../src/domain/work-queue.js";

let next = 0;
function item(key: string, kind: WorkKind = "deploy"): WorkItem<string> {
  next++;
  return { id: `d${next}`, key, kind, payload: `${kind} ${key} #${next}` };
}

function drain(queue: WorkQueue<string>): WorkItem<string>[] {
  const taken: WorkItem<string>[] = [];
  for (let got = queue.take(); got; got = queue.take()) taken.push(got);
  return taken;
}

describe("WorkQueue", () => {
  it("refuses a limit below 1 or not whole", () => {
    expect(() => new WorkQueue(0)).toThrow(/at least 1/);
    expect(() => new WorkQueue(1.5)).toThrow(/whole number/);
  });

  it("shows the next waiting items without taking them (the worker claims them ahead)", () => {
    const queue = new WorkQueue<string>(1);
    const items = ["a", "b", "c"].map((k) => item(k));
    for (const i of items) queue.enqueue(i);
    expect(queue.take()?.key).toBe("a");
    expect(queue.upcoming(5).map((i) => i.key)).toEqual(["b", "c"]);
    expect(queue.upcoming(1).map((i) => i.key)).toEqual(["b"]);
    expect(queue.upcoming(0)).toEqual([]);
    expect(queue.depth).toBe(2);
  });

  it("runs at most `limit` items at once and the rest wait in order", () => {
    const queue = new WorkQueue<string>(2);
    const items = ["a", "b", "c", "d"].map((k) => item(k));
    for (const i of items) queue.enqueue(i);
    expect(drain(queue).map((i) => i.key)).toEqual(["a", "b"]);
    expect(queue.running).toBe(2);
    expect(queue.depth).toBe(2);
    queue.done(items[1] as WorkItem<string>);
    expect(drain(queue).map((i) => i.key)).toEqual(["c"]);
    expect(queue.depth).toBe(1);
  });

  it("never runs two items of one sandbox at once, and skips over a busy key to a free one", () => {
    const queue = new WorkQueue<string>(5);
    const first = item("pr-1", "other");
    const second = item("pr-1", "other");
    const other = item("pr-2", "other");
    queue.enqueue(first);
    queue.enqueue(second);
    queue.enqueue(other);
    expect(drain(queue).map((i) => i.id)).toEqual([first.id, other.id]);
    queue.done(first);
    expect(drain(queue).map((i) => i.id)).toEqual([second.id]);
  });

  it("a newer deploy of a sandbox supersedes its waiting deploys, and says which", () => {
    const queue = new WorkQueue<string>(1);
    const blocker = item("x", "other");
    queue.enqueue(blocker);
    expect(queue.take()).toBe(blocker);
    const old1 = item("a");
    const old2 = item("a");
    const unrelated = item("b");
    queue.enqueue(old1);
    expect(queue.enqueue(unrelated).superseded).toEqual([]);
    expect(queue.enqueue(old2).superseded).toEqual([old1]);
    const newest = item("a");
    expect(queue.enqueue(newest).superseded).toEqual([old2]);
    expect(queue.depth).toBe(2);
    queue.done(blocker);
    const order = [];
    for (let got = queue.take(); got; got = queue.take()) {
      order.push(got.id);
      queue.done(got);
    }
    expect(order).toEqual([unrelated.id, newest.id]);
  });

  it("a destroy supersedes a waiting deploy; a deploy never supersedes a destroy or a command", () => {
    const queue = new WorkQueue<string>(1);
    const blocker = item("x", "other");
    queue.enqueue(blocker);
    queue.take();
    const deploy = item("a");
    queue.enqueue(deploy);
    const destroy = item("a", "destroy");
    expect(queue.enqueue(destroy).superseded).toEqual([deploy]);
    const command = item("a", "other");
    expect(queue.enqueue(command).superseded).toEqual([]);
    const redeploy = item("a");
    expect(queue.enqueue(redeploy).superseded).toEqual([]);
    expect(queue.depth).toBe(3);
  });

  it("a running deploy is never superseded: the newer one waits for it", () => {
    const queue = new WorkQueue<string>(2);
    const running = item("a");
    queue.enqueue(running);
    expect(queue.take()).toBe(running);
    const newer = item("a");
    expect(queue.enqueue(newer).superseded).toEqual([]);
    expect(queue.take()).toBeUndefined();
    queue.done(running);
    expect(queue.take()).toBe(newer);
  });

  it("every enqueued item is either taken or reported superseded (none lost, none twice)", () => {
    const queue = new WorkQueue<string>(3);
    const enqueued = new Set<string>();
    const accounted: string[] = [];
    const keys = ["a", "b", "c", "d"];
    const kinds: WorkKind[] = ["deploy", "deploy", "destroy", "other"];
    const running: WorkItem<string>[] = [];
    for (let n = 0; n < 500; n++) {
      const i = item(keys[n % 4] as string, kinds[(n * 7) % 4] as WorkKind);
      enqueued.add(i.id);
      accounted.push(...queue.enqueue(i).superseded.map((s) => s.id));
      if (n % 3 === 0) {
        const finished = running.shift();
        if (finished) queue.done(finished);
      }
      for (let got = queue.take(); got; got = queue.take()) {
        running.push(got);
        accounted.push(got.id);
      }
    }
    for (const r of running.splice(0)) queue.done(r);
    for (let got = queue.take(); got; got = queue.take()) {
      accounted.push(got.id);
      queue.done(got);
    }
    expect(accounted.length).toBe(enqueued.size);
    expect(new Set(accounted)).toEqual(enqueued);
  });
});

describe("WorkQueue.busy", () => {
  it("is true while an item of the key waits or runs, false once it is done", () => {
    const queue = new WorkQueue<string>(1);
    const first = item("k", "other");
    const second = item("k", "other");
    expect(queue.busy("k")).toBe(false);
    queue.enqueue(first);
    expect(queue.busy("k")).toBe(true);
    queue.enqueue(second);
    expect(queue.take()).toBe(first);
    queue.done(first);
    expect(queue.busy("k")).toBe(true);
    expect(queue.take()).toBe(second);
    queue.done(second);
    expect(queue.busy("k")).toBe(false);
  });
});

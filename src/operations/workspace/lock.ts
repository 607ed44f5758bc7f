// A per-workspace mutex inside one agent process: the checks of an operation
// (is it running? is there a volume? is a job there?) and the writes that
// follow them happen without another call for the same workspace in between.
// Across restarts nothing is held: the state is in Kubernetes and the store.
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(fn, fn);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

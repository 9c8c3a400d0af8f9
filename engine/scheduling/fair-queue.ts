// FairQueue: runs one task at a time, taking turns between owners (the tabs sharing one engine).

/**
 * The rule. Each owner (a tab's connection; in-process callers that name none share one lane) has its own
 * first-in-first-out line. Whenever the engine is free it starts the oldest task of the next owner in turn: owners
 * take turns in the order they began waiting, and the owner served last goes behind every owner waiting at that
 * moment. So no owner runs two tasks in a row while another waits, and one tab's burst of requests cannot starve a
 * tab that asked once; with one owner it is plain first come, first served.
 *
 * A turn is a whole task (a load, or a request to its last token): the engine holds one KV sequence, so requests
 * cannot interleave token by token. max_tokens and the context bound how long another owner waits.
 *
 * An owner may be paused (a tab the browser froze, which cannot read a reply): its waiting tasks keep their place in
 * its line and its line keeps its place in the turns, but none of them starts; the owners behind it are served
 * meanwhile, and once resumed it is served at the place it kept. A task already running is not affected.
 */
export class FairQueue {
  /** Waiting tasks by owner; an owner is here only while it has some. */
  private readonly lines = new Map<string, Array<() => void>>();
  /** Owners with waiting tasks, in turn order. */
  private readonly turns: string[] = [];
  /** The owner whose task ran last: it goes behind the others at the next pick. */
  private lastServed: string | null = null;
  private busy = false;
  /** Owners whose tasks wait without starting (kept even while they have none: a task they add waits too). */
  private readonly paused = new Set<string>();

  /** Runs `task` in `owner`'s line; settles as the task does. */
  run<T>(owner: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        task().then(resolve, reject).finally(() => {
          this.busy = false;
          this.startNext();
        });
      };
      const line = this.lines.get(owner);
      if (line) line.push(start);
      else {
        this.lines.set(owner, [start]);
        this.turns.push(owner);
      }
      this.startNext();
    });
  }

  /** Pauses or resumes `owner`: while paused, its waiting tasks keep their place and others' run. */
  pause(owner: string, paused: boolean): void {
    if (paused) this.paused.add(owner);
    else if (this.paused.delete(owner)) this.startNext();
  }

  /** How many tasks wait (not counting the one running). */
  get waiting(): number {
    let n = 0;
    for (const line of this.lines.values()) n += line.length;
    return n;
  }

  private startNext(): void {
    if (this.busy || this.turns.length === 0) return;
    // The owner served last waits behind everyone else who is waiting now.
    const at = this.lastServed === null ? -1 : this.turns.indexOf(this.lastServed);
    if (at >= 0 && this.turns.length > 1) this.turns.push(...this.turns.splice(at, 1));
    // The first owner in turn that is not paused; paused ones stay where they are.
    const next = this.turns.findIndex((o) => !this.paused.has(o));
    if (next < 0) return;
    const owner = this.turns[next];
    const line = this.lines.get(owner) as Array<() => void>;
    const start = line.shift() as () => void;
    if (line.length === 0) {
      this.lines.delete(owner);
      this.turns.splice(next, 1);
    }
    this.lastServed = owner;
    this.busy = true;
    start();
  }
}

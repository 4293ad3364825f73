/**
 * A first-in first-out queue of at most `capacity` items that drops its oldest item to take a new one, in constant
 * time. An array's shift() moves every element: with the decision log full (the database down or slower than the
 * lookups) each admission lookup paid a move of 100,000 references, 41 % of the service's CPU in a profile of batch
 * checks at saturation. Here the head is an index; the consumed front is cut off once it is half of the array.
 */
export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error("a bounded queue needs a capacity of at least 1");
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Adds `item` at the back; returns true when the oldest item was dropped to make room. */
  push(item: T): boolean {
    let dropped = false;
    if (this.length >= this.capacity) {
      this.items[this.head] = undefined as T; // let it go now, not at the next compaction
      this.head++;
      dropped = true;
    }
    this.items.push(item);
    this.compact();
    return dropped;
  }

  /** Removes and returns up to `n` items from the front, oldest first. */
  take(n: number): T[] {
    const out = this.items.slice(this.head, this.head + n);
    this.head += out.length;
    this.compact();
    return out;
  }

  /** Puts items taken earlier back at the front (a failed write), keeping the newest `capacity` of all; returns how many were dropped. */
  putBack(batch: readonly T[]): number {
    const all = [...batch, ...this.items.slice(this.head)];
    const dropped = Math.max(0, all.length - this.capacity);
    this.items = dropped > 0 ? all.slice(dropped) : all;
    this.head = 0;
    return dropped;
  }

  private compact(): void {
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    } else if (this.head > 0 && this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
  }
}

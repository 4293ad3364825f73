import fc from "fast-check";
import { BoundedQueue } from "../../src/lookup/bounded-queue";

/** The behaviour it replaces, written plainly: an array that shifts out its oldest item when full. */
class ShiftingModel {
  items: number[] = [];
  constructor(readonly capacity: number) {}
  push(item: number): boolean {
    const dropped = this.items.length >= this.capacity;
    if (dropped) this.items.shift();
    this.items.push(item);
    return dropped;
  }
  take(n: number): number[] {
    return this.items.splice(0, n);
  }
  putBack(batch: number[]): number {
    const all = batch.concat(this.items);
    this.items = all.slice(-this.capacity);
    return all.length - this.items.length;
  }
}

const operation = fc.oneof(
  fc.record({ op: fc.constant("push" as const), count: fc.integer({ min: 1, max: 1500 }) }),
  fc.record({ op: fc.constant("take" as const), count: fc.integer({ min: 0, max: 5000 }) }),
  fc.record({ op: fc.constant("takeAndPutBack" as const), count: fc.integer({ min: 0, max: 5000 }) }),
);

test("any sequence of pushes, takes and put-backs gives what a shifting array gives: same items in order, same drops", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1500 }), fc.array(operation, { maxLength: 20 }), (capacity, operations) => {
      const queue = new BoundedQueue<number>(capacity);
      const model = new ShiftingModel(capacity);
      let next = 0;
      for (const { op, count } of operations) {
        if (op === "push") {
          for (let i = 0; i < count; i++, next++) expect(queue.push(next)).toBe(model.push(next));
        } else if (op === "take") {
          expect(queue.take(count)).toEqual(model.take(count));
        } else {
          const taken = queue.take(count);
          expect(taken).toEqual(model.take(count));
          // New items may arrive while a failed write is retried.
          for (let i = 0; i < 7; i++, next++) expect(queue.push(next)).toBe(model.push(next));
          expect(queue.putBack(taken)).toBe(model.putBack(taken));
        }
        expect(queue.length).toBe(model.items.length);
        expect(queue.length).toBeLessThanOrEqual(capacity);
      }
      expect(queue.take(Number.MAX_SAFE_INTEGER)).toEqual(model.items);
      expect(queue.length).toBe(0);
    }),
    { numRuns: 60 },
  );
});

test("a capacity below 1 is refused", () => {
  expect(() => new BoundedQueue(0)).toThrow(/capacity/);
});

import fc from "fast-check";
import { Backoff } from "../../../src/agent/backoff";
import { labelChanges } from "../../../src/agent/namespace-labeller";

test("when counts and labels differ, then the changes set the count where it is wrong and remove the label where there is none", () => {
  const open = new Map([["shop", 2], ["web", 1], ["same", 4], ["zero", 0]]);
  const current = new Map([["shop", "5"], ["same", "4"], ["idle", "3"], ["zero", "1"]]);
  expect(labelChanges(open, current)).toEqual([
    { namespace: "shop", value: "2" },
    { namespace: "web", value: "1" },
    { namespace: "idle", value: null },
    { namespace: "zero", value: null },
  ]);
});

test("when the changes are applied to any labels, then the labels equal the positive counts, and applying again changes nothing", () => {
  const ns = fc.constantFrom("a", "b", "c", "d", "e");
  fc.assert(
    fc.property(fc.dictionary(ns, fc.nat(5)), fc.dictionary(ns, fc.constantFrom("0", "1", "2", "x")), (openObj, currentObj) => {
      const open = new Map(Object.entries(openObj));
      const labels = new Map<string, string>(Object.entries(currentObj));
      for (const c of labelChanges(open, labels)) {
        if (c.value === null) labels.delete(c.namespace);
        else labels.set(c.namespace, c.value);
      }
      const wanted = [...open].filter(([, n]) => n > 0).map(([k, n]) => [k, String(n)]).sort();
      expect([...labels].sort()).toEqual(wanted);
      expect(labelChanges(open, labels)).toEqual([]);
    }),
  );
});

test("when failures repeat, then the backoff doubles up to its maximum, stays within the jitter, and starts over after reset", () => {
  const mid = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.5 });
  expect([1, 2, 3, 4, 5, 6].map(() => mid.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
  expect(mid.failures).toBe(6);
  mid.reset();
  expect(mid.next()).toBe(100);
  const low = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.2, random: () => 0 });
  const high = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.2, random: () => 0.999999 });
  expect(low.next()).toBe(80);
  expect(high.next()).toBe(120);
  for (let i = 0; i < 50; i++) expect(high.next()).toBeLessThanOrEqual(1000);
});

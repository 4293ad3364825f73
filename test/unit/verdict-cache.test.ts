import { VerdictCache, type CachedAnswer } from "../../src/lookup/verdict-cache";

const entry = (name: string): CachedAnswer => ({ answer: { image_digest: name } as CachedAnswer["answer"], text: name, byteLength: Buffer.byteLength(name), validUntil: null, loadedAt: 0 });

describe("the verdict cache's bound", () => {
  test("when a cached digest is stored again in a full cache, then no other entry is evicted for it", () => {
    const cache = new VerdictCache(2);
    cache.enabled = true; // as once the change listener is connected
    cache.set("a", entry("a"), cache.generation);
    cache.set("b", entry("b1"), cache.generation);
    cache.set("b", entry("b2"), cache.generation);
    expect(cache.get("a", 0)?.text).toBe("a");
    expect(cache.get("b", 0)?.text).toBe("b2");
  });

  test("when a new digest arrives in a full cache, then the least recently stored one goes", () => {
    const cache = new VerdictCache(2);
    cache.enabled = true; // as once the change listener is connected
    cache.set("a", entry("a"), cache.generation);
    cache.set("b", entry("b"), cache.generation);
    cache.set("a", entry("a2"), cache.generation);
    cache.set("c", entry("c"), cache.generation);
    expect(cache.get("b", 0)).toBeNull();
    expect(cache.get("a", 0)?.text).toBe("a2");
    expect(cache.get("c", 0)?.text).toBe("c");
  });
});

import { z } from "zod";
import { timeOrderedUuid } from "../../src/domain/time-ordered-id";

test("when report IDs are made, then they are RFC 9562 version 7 UUIDs whose order is their time's order", () => {
  const ids = [0, 1, 1000, 1_764_650_000_000, 1_764_650_000_001, 2 ** 47].map((ms) => timeOrderedUuid(ms));
  for (const id of ids) {
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(z.string().uuid().safeParse(id).success).toBe(true);
  }
  expect([...ids].sort()).toEqual(ids);
  // The first 48 bits are the milliseconds: 1_764_650_000_000 = 0x019add561e80.
  expect(timeOrderedUuid(1_764_650_000_000).slice(0, 13)).toBe("019add56-1e80");
  // Two IDs of the same millisecond differ (random tail).
  expect(timeOrderedUuid(5)).not.toBe(timeOrderedUuid(5));
});

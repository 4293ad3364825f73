import { DomainError } from "../../src/domain/errors";
import { INGEST_MEMORY_PER_BODY_BYTE, IngestAdmission } from "../../src/ingest/ingest-admission";

/** The ingest memory budget as a unit: who is admitted, in which order, and who is refused after the bounded wait. */
const MB = 1024 * 1024;

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

test("when uploads fit the budget together, then they run at once", async () => {
  const admission = new IngestAdmission(60 * MB, 1000);
  const a = gate();
  const b = gate();
  const running: string[] = [];
  const first = admission.run(4 * MB, async () => (running.push("a"), a.opened));
  const second = admission.run(4 * MB, async () => (running.push("b"), b.opened));
  await new Promise((r) => setImmediate(r));
  expect(running).toEqual(["a", "b"]);
  expect(admission.used).toBe(2 * 4 * MB * INGEST_MEMORY_PER_BODY_BYTE);
  a.open();
  b.open();
  await Promise.all([first, second]);
  expect(admission.used).toBe(0);
});

test("when an upload does not fit, then it waits for the running one and starts when that ends", async () => {
  const admission = new IngestAdmission(30 * MB, 60_000);
  const a = gate();
  const order: string[] = [];
  const first = admission.run(4 * MB, async () => {
    order.push("a starts");
    await a.opened;
    order.push("a ends");
  });
  const second = admission.run(4 * MB, async () => void order.push("b starts"));
  await new Promise((r) => setImmediate(r));
  expect(order).toEqual(["a starts"]);
  expect(admission.queued).toBe(1);
  a.open();
  await Promise.all([first, second]);
  expect(order).toEqual(["a starts", "a ends", "b starts"]);
});

test("when a report is larger than the whole budget, then it still runs, alone", async () => {
  const admission = new IngestAdmission(10 * MB, 1000);
  await expect(admission.run(50 * MB, async () => "stored")).resolves.toBe("stored");
  expect(admission.used).toBe(0);
});

test("when the wait passes its bound, then 503 ingest_busy with retry_after_seconds, and the work never runs", async () => {
  const admission = new IngestAdmission(10 * MB, 50, 7);
  const a = gate();
  const first = admission.run(10 * MB, () => a.opened);
  let ran = false;
  const refused = await admission.run(1 * MB, async () => void (ran = true)).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(DomainError);
  expect(refused).toMatchObject({ kind: "unavailable", code: "ingest_busy", extra: { retry_after_seconds: 7 } });
  expect(ran).toBe(false);
  expect(admission.queued).toBe(0);
  a.open();
  await first;
});

test("when a failing ingest ends, then its share of the budget is released", async () => {
  const admission = new IngestAdmission(10 * MB, 1000);
  await expect(admission.run(1 * MB, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
  expect(admission.used).toBe(0);
});

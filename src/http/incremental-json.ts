import { parser } from "stream-json";

/**
 * A large report parsed a slice at a time, letting the event loop run between slices: JSON.parse of a 44 MB report
 * of 1,000,000 tiny findings held the only thread for ~2–7 s on this project's machine, and every admission lookup
 * on the replica waited that long (issue 17 item 2). stream-json's tokenizer builds the same values as JSON.parse,
 * about twice as slowly but never for long without a pause. The document is still built whole (the decoders read
 * it as one object), so memory is what JSON.parse would use.
 */
const SLICE_CHARACTERS = 256 * 1024;

type Token = { name: string; value?: string };

/** JSON.parse's values from a token stream; `__proto__` becomes an own property, as JSON.parse makes it. */
class ValueBuilder {
  private readonly stack: Array<{ container: Record<string, unknown> | unknown[]; key: string | null }> = [];
  private container: Record<string, unknown> | unknown[] | null = null;
  private key: string | null = null;
  result: unknown = undefined;
  done = false;

  token(t: Token): void {
    switch (t.name) {
      case "startObject":
      case "startArray": {
        const next = t.name === "startObject" ? {} : [];
        if (this.container) this.stack.push({ container: this.container, key: this.key });
        this.container = next;
        this.key = null;
        return;
      }
      case "endObject":
      case "endArray": {
        const value = this.container;
        const parent = this.stack.pop();
        if (!parent) {
          this.container = null;
          this.finish(value);
          return;
        }
        this.container = parent.container;
        this.key = parent.key;
        this.save(value);
        return;
      }
      case "keyValue":
        this.key = t.value!;
        return;
      case "stringValue":
        return this.save(t.value!);
      case "numberValue":
        return this.save(parseFloat(t.value!));
      case "nullValue":
        return this.save(null);
      case "trueValue":
        return this.save(true);
      case "falseValue":
        return this.save(false);
    }
  }

  private save(value: unknown): void {
    const target = this.container;
    if (!target) return this.finish(value);
    if (Array.isArray(target)) target.push(value);
    else if (this.key === "__proto__") Object.defineProperty(target, "__proto__", { value, writable: true, enumerable: true, configurable: true });
    else target[this.key!] = value;
    this.key = null;
  }

  private finish(value: unknown): void {
    this.result = value;
    this.done = true;
  }
}

/** Parses JSON text like JSON.parse, yielding to the event loop between slices; rejects with the parser's error. */
export async function parseJsonIncrementally(text: string, sliceCharacters = SLICE_CHARACTERS): Promise<unknown> {
  const tokens = parser({ packKeys: true, packStrings: true, packNumbers: true, streamKeys: false, streamStrings: false, streamNumbers: false });
  const builder = new ValueBuilder();
  let failure: Error | null = null;
  tokens.on("data", (t: Token) => builder.token(t));
  tokens.on("error", (error: Error) => (failure ??= error));
  // 'close' comes last both after the end and after an error (the parser then stops taking input).
  const closed = new Promise<void>((resolve) => tokens.once("close", resolve));
  for (let at = 0; at < text.length && !failure; ) {
    let end = Math.min(text.length, at + sliceCharacters);
    // Never split a surrogate pair: the halves would be written as two U+FFFD.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end++;
    if (!tokens.write(text.slice(at, end))) await Promise.race([new Promise<void>((resolve) => tokens.once("drain", resolve)), closed]);
    at = end;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (!failure) tokens.end();
  await closed;
  if (failure) throw failure;
  if (!builder.done) throw new Error("Unexpected end of JSON input");
  return builder.result;
}

import fc from "fast-check";
import { DomainError } from "../../src/domain/errors";
import { parseJson } from "../../src/http/read-body";
import { asciiJsonText } from "../../src/http/json-text";

const parsePlain = (bytes: Buffer): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(bytes.toString("utf8")) };
  } catch {
    return { ok: false };
  }
};

// Bytes that matter to the escaping: backslash, quote, 'u' and hex digits, UTF-8 lead and continuation bytes,
// bytes that are never valid UTF-8, and ordinary ASCII.
const awkwardByte = fc.oneof(
  fc.constantFrom(0x5c, 0x22, 0x75, 0x30, 0x41, 0x20, 0x0a),
  fc.constantFrom(0xc3, 0xa9, 0xe2, 0x80, 0x9c, 0xf0, 0x9f, 0x98, 0xbf, 0xc0, 0xff, 0xed, 0xa0),
  fc.integer({ min: 0, max: 255 }),
);

describe("the ASCII text of a JSON body", () => {
  test("when any JSON value with any Unicode strings is sent, then its ASCII text is pure ASCII and parses to the same value", () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: "binary" }), (value) => {
        const bytes = Buffer.from(JSON.stringify(value), "utf8");
        const text = asciiJsonText(bytes);
        expect(text).not.toBeNull();
        expect(/^[\x00-\x7f]*$/.test(text!)).toBe(true);
        expect(JSON.parse(text!)).toEqual(JSON.parse(bytes.toString("utf8")));
      }),
      { numRuns: 500 },
    );
  });

  test("when arbitrary bytes sit inside a JSON string, then the ASCII text is accepted exactly when the bytes are, with the same value", () => {
    let plainDecodings = 0;
    fc.assert(
      fc.property(fc.array(awkwardByte, { maxLength: 40 }), fc.boolean(), (inner, wrapInString) => {
        const bytes = Buffer.concat([Buffer.from(wrapInString ? '{"k":"' : "["), Buffer.from(inner), Buffer.from(wrapInString ? '"}' : "]")]);
        const plain = parsePlain(bytes);
        const text = asciiJsonText(bytes);
        if (text === null) {
          // parseJson then decodes the bytes as sent: it must refuse them exactly when the plain decoding does, and
          // otherwise give the same value.
          plainDecodings++;
          let served: { ok: true; value: unknown } | { ok: false };
          try {
            served = { ok: true, value: parseJson(bytes) };
          } catch (error) {
            expect(error).toBeInstanceOf(DomainError);
            expect((error as DomainError).code).toBe("invalid_json");
            served = { ok: false };
          }
          expect(served).toEqual(plain);
          return;
        }
        let escaped: { ok: true; value: unknown } | { ok: false };
        try {
          escaped = { ok: true, value: JSON.parse(text) };
        } catch {
          escaped = { ok: false };
        }
        expect(escaped).toEqual(plain);
      }),
      { numRuns: 5000 },
    );
    expect(plainDecodings).toBeGreaterThan(0); // the branch above ran
  });

  test("when a non-ASCII character follows an odd run of backslashes, then the escaped form is not used (it would make an invalid escape valid)", () => {
    expect(asciiJsonText(Buffer.from('{"k":"\\é"}'))).toBeNull();
    expect(asciiJsonText(Buffer.from('{"k":"\\\\é"}'))).toBe('{"k":"\\\\\\u00e9"}');
    expect(() => parseJson(Buffer.from('{"k":"\\é"}'))).toThrow(DomainError);
  });

  test("when a body is refused as invalid JSON, then the message counts positions in the text as sent", () => {
    const body = Buffer.from('{"título": "ça", "x": }');
    let plainMessage = "";
    try {
      JSON.parse(body.toString("utf8"));
    } catch (error) {
      plainMessage = (error as Error).message;
    }
    expect(() => parseJson(body)).toThrow(`The request body is not valid JSON: ${plainMessage}`);
  });

  test("when a body is a UTF-8 BOM and Unicode whitespace only, then it is an empty body", () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("\u3000\u00a0 \n")]);
    expect(() => parseJson(body)).toThrow(expect.objectContaining({ code: "empty_body" }));
    expect(parseJson(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":"“b”"}')]))).toEqual({ a: "“b”" });
  });
});

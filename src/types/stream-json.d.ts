/** The part of stream-json (no published types) that src/http/incremental-json.ts uses. */
declare module "stream-json" {
  import type { Transform } from "node:stream";
  export function parser(options?: {
    packKeys?: boolean;
    packStrings?: boolean;
    packNumbers?: boolean;
    streamKeys?: boolean;
    streamStrings?: boolean;
    streamNumbers?: boolean;
  }): Transform;
}

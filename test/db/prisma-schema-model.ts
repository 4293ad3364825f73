/**
 * A small reader of prisma/schema.prisma for the schema tests: every model's table, columns, primary key, unique
 * constraints, indexes and foreign keys, with the names Prisma gives them when the schema names none. It reads any
 * model (a table added tomorrow is checked without anyone touching the tests).
 */
export interface PrismaColumn {
  model: string;
  table: string;
  column: string;
  type: string;
  optional: boolean;
  list: boolean;
  native: string | null;
}

export interface PrismaIndex {
  table: string;
  name: string;
  columns: string[];
  unique: boolean;
  primary: boolean;
  /** btree unless the schema says `type:` (e.g. Gin). */
  method: string;
  /** The partial index's predicate, as written in raw("…"), or null. */
  where: string | null;
}

export interface PrismaForeignKey {
  table: string;
  name: string;
  columns: string[];
  references: { table: string; columns: string[] };
  onDelete: string;
  onUpdate: string;
}

export interface PrismaModel {
  name: string;
  table: string;
  columns: PrismaColumn[];
  indexes: PrismaIndex[];
  foreignKeys: PrismaForeignKey[];
}

const SCALARS = new Set(["String", "Int", "BigInt", "Boolean", "DateTime", "Json", "Bytes", "Decimal", "Float"]);

/** The value of `name: …` inside an attribute's arguments ("…" string, [list], raw("…"), or a bare word). */
function argument(args: string, name: string): string | null {
  const m = new RegExp(`\\b${name}\\s*:\\s*(raw\\("((?:[^"\\\\]|\\\\.)*)"\\)|"([^"]*)"|\\[([^\\]]*)\\]|(\\w+))`).exec(args);
  if (!m) return null;
  return m[2] ?? m[3] ?? m[4] ?? m[5] ?? null;
}

/** The field list of @@index([a, b(sort: Desc)], …): the field names. */
function fieldList(args: string): string[] {
  const m = /^\s*\[([^\]]*)\]/.exec(args) ?? /\bfields\s*:\s*\[([^\]]*)\]/.exec(args);
  return (m?.[1] ?? "").split(",").map((f) => f.trim().replace(/\(.*$/, "")).filter(Boolean);
}

/** The arguments of `@attr(...)` with balanced parentheses, or "" when it has none. */
function attributeArgs(text: string, attr: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (;;) {
    const at = text.indexOf(attr, from);
    if (at < 0) return out;
    const after = at + attr.length;
    if (/\w/.test(text[after] ?? "")) {
      from = after;
      continue;
    }
    if (text[after] !== "(") {
      out.push("");
      from = after;
      continue;
    }
    let depth = 0;
    let end = after;
    for (; end < text.length; end++) {
      if (text[end] === "(") depth++;
      else if (text[end] === ")" && --depth === 0) break;
    }
    out.push(text.slice(after + 1, end));
    from = end;
  }
}

const PRISMA_ACTIONS: Record<string, string> = { Cascade: "CASCADE", NoAction: "NO ACTION", Restrict: "RESTRICT", SetNull: "SET NULL", SetDefault: "SET DEFAULT" };

export function readPrismaSchema(text: string): PrismaModel[] {
  const blocks = [...text.matchAll(/^model\s+(\w+)\s*\{([\s\S]*?)^\}/gm)].map((m) => ({ name: m[1]!, body: m[2]! }));
  const tableOf = new Map(blocks.map((b) => [b.name, /@@map\("([^"]+)"\)/.exec(b.body)?.[1] ?? b.name]));
  return blocks.map(({ name, body }) => {
    const table = tableOf.get(name)!;
    const lines = body.split("\n").map((l) => l.replace(/\/\/.*$/, "").trim()).filter(Boolean);
    const columnOf = new Map<string, string>();
    const columns: PrismaColumn[] = [];
    const indexes: PrismaIndex[] = [];
    const foreignKeys: PrismaForeignKey[] = [];
    const relations: Array<{ line: string; target: string; args: string }> = [];
    for (const line of lines) {
      if (line.startsWith("@@")) continue;
      const m = /^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/.exec(line);
      if (!m) continue;
      const [, field, type, list, optional, attrs] = m as unknown as [string, string, string, string | undefined, string | undefined, string];
      if (!SCALARS.has(type)) {
        const args = attributeArgs(attrs, "@relation")[0];
        if (args !== undefined && /\bfields\s*:/.test(args)) relations.push({ line, target: type, args });
        continue;
      }
      const column = /@map\("([^"]+)"\)/.exec(attrs)?.[1] ?? field;
      columnOf.set(field, column);
      columns.push({ model: name, table, column, type, optional: !!optional, list: !!list, native: /@db\.(\w+)/.exec(attrs)?.[1] ?? null });
      const id = attributeArgs(attrs, "@id")[0];
      if (id !== undefined) indexes.push({ table, name: argument(id, "map") ?? `${table}_pkey`, columns: [column], unique: true, primary: true, method: "btree", where: null });
      const unique = attributeArgs(attrs, "@unique")[0];
      if (unique !== undefined)
        indexes.push({ table, name: argument(unique, "map") ?? `${table}_${column}_key`, columns: [column], unique: true, primary: false, method: "btree", where: null });
    }
    const col = (f: string) => columnOf.get(f) ?? f;
    for (const [attr, unique, primary, suffix] of [
      ["@@id", true, true, "pkey"],
      ["@@unique", true, false, "key"],
      ["@@index", false, false, "idx"],
    ] as const) {
      for (const line of lines.filter((l) => l.startsWith(attr + "(")))
        for (const args of attributeArgs(line, attr)) {
          const cols = fieldList(args).map(col);
          indexes.push({
            table,
            name: argument(args, "map") ?? argument(args, "name") ?? (primary ? `${table}_pkey` : `${table}_${cols.join("_")}_${suffix}`),
            columns: cols,
            unique,
            primary,
            method: (argument(args, "type") ?? "btree").toLowerCase(),
            where: argument(args, "where"),
          });
        }
    }
    for (const r of relations) {
      const cols = fieldList(argument(r.args, "fields") !== null ? `[${argument(r.args, "fields")}]` : "").map(col);
      const targetBlock = blocks.find((b) => b.name === r.target)!;
      const targetColumn = (f: string) => {
        const line = targetBlock.body.split("\n").find((l) => new RegExp(`^\\s*${f}\\s`).test(l)) ?? "";
        return /@map\("([^"]+)"\)/.exec(line)?.[1] ?? f;
      };
      const optional = /^\w+\s+\w+\?/.test(r.line);
      foreignKeys.push({
        table,
        name: argument(r.args, "map") ?? `${table}_${cols.join("_")}_fkey`,
        columns: cols,
        references: { table: tableOf.get(r.target)!, columns: fieldList(`[${argument(r.args, "references") ?? ""}]`).map(targetColumn) },
        // Prisma's defaults when the schema says nothing: SetNull / Restrict on delete, Cascade on update.
        onDelete: PRISMA_ACTIONS[argument(r.args, "onDelete") ?? (optional ? "SetNull" : "Restrict")]!,
        onUpdate: PRISMA_ACTIONS[argument(r.args, "onUpdate") ?? "Cascade"]!,
      });
    }
    return { name, table, columns, indexes, foreignKeys };
  });
}

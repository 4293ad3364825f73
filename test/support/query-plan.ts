import fs from "node:fs";
import path from "node:path";
import type { Queryable } from "../../src/db/queryable";

/** One node of EXPLAIN (FORMAT JSON)'s plan: the fields the EXPLAIN tests look at. */
export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Index Cond"?: string;
  Plans?: PlanNode[];
}

/** A plan node and every node under it, depth first. */
export const planNodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(planNodes)];

/** The nodes of the plan PostgreSQL chooses for `sql` (EXPLAIN without running it). */
export async function explainPlan(q: Queryable, sql: string, params: unknown[] = []): Promise<PlanNode[]> {
  const { rows } = await q.query<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
  return planNodes(rows[0]!["QUERY PLAN"][0]!.Plan);
}

const INDEX_NODES = new Set(["Index Scan", "Index Only Scan", "Bitmap Index Scan"]);
export const indexesUsed = (plan: PlanNode[]) => plan.filter((n) => INDEX_NODES.has(n["Node Type"])).map((n) => n["Index Name"]);
export const seqScanned = (plan: PlanNode[]) => plan.filter((n) => n["Node Type"] === "Seq Scan").map((n) => n["Relation Name"]);

/** A named query of docs/sql.md (`-- name: …`), as written there. */
export function docsQuery(name: string): string {
  const doc = fs.readFileSync(path.resolve(__dirname, "../../docs/sql.md"), "utf8");
  const sql = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => new RegExp(`^-- name: ${name}$`, "m").test(b));
  if (!sql) throw new Error(`docs/sql.md has no query named "${name}"`);
  return sql;
}

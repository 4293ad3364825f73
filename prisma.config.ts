import { defineConfig } from "prisma/config";

// Migrations are hand-written SQL applied by src/db/migrator.ts (prisma migrate needs a native engine that cannot be
// downloaded here); Prisma is used for the generated client only.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
});

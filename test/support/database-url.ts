export const TEMPLATE_DATABASE = "scan_registry_test_template";

export function withDatabaseName(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

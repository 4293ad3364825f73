import os from "node:os";

export interface Machine {
  cpus: number;
  cpu_model: string;
  memory_gb: number;
  node: string;
  postgres: string;
  os: string;
}

/** What the numbers were measured on: they only mean something next to the machine. */
export function describeMachine(postgresVersion: string): Machine {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpu_model: cpus[0]?.model.trim() ?? "unknown",
    memory_gb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    postgres: postgresVersion,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

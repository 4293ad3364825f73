import autocannon from "autocannon";

export interface LoadOptions {
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationSec: number;
  /** Requests per second across all connections (steady rate); omit for saturation. */
  overallRate?: number;
}

export interface LoadResult {
  requestsPerSec: number;
  total: number;
  non2xx: number;
  errors: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Per-request latencies with sub-millisecond resolution (autocannon's histogram keeps whole ms only). */
  samplesMs: number[];
}

/** Runs autocannon in this process against one URL. */
export async function runLoad(options: LoadOptions, collectSamples = false): Promise<LoadResult> {
  const samples: number[] = [];
  let instance!: autocannon.Instance;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: options.url,
        method: options.method ?? "GET",
        headers: options.headers,
        body: options.body,
        connections: options.connections,
        duration: options.durationSec,
        overallRate: options.overallRate,
      },
      (error, r) => (error ? reject(error) : resolve(r)),
    );
    if (collectSamples) {
      instance.on("response", (_client, statusCode, _bytes, responseTime) => {
        if (statusCode >= 200 && statusCode < 300) samples.push(responseTime);
      });
    }
  });
  return {
    requestsPerSec: result.requests.total / result.duration,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    samplesMs: samples,
  };
}

// Prometheus metrics for `GET /metrics` (prom-client, one registry per app so several apps in
// one process, as in the tests, do not share counters): requests by route and status, a
// latency histogram, the queue, live tensors, memory and how long the model took to load.
import { memory } from '@tgcnet/torch';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { InferenceQueue } from './queue.js';

export class ServeMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #latency: Histogram<'method' | 'route'>;

  constructor(queue: InferenceQueue, modelLoadSeconds: number | null) {
    const registers = [this.registry];
    this.#requests = new Counter({ name: 'tgcnet_http_requests_total', help: 'HTTP requests by method, route and status', labelNames: ['method', 'route', 'status'], registers });
    this.#latency = new Histogram({
      name: 'tgcnet_http_request_duration_seconds',
      help: 'HTTP request latency, from the first byte to the answer',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({ name: 'tgcnet_queue_waiting', help: 'requests waiting for the model', registers, collect() { this.set(queue.depth); } });
    new Gauge({ name: 'tgcnet_queue_running', help: 'requests running on the model (0 or 1)', registers, collect() { this.set(Number(queue.running)); } });
    new Gauge({ name: 'tgcnet_queue_capacity', help: 'requests that may wait before 503', registers, collect() { this.set(queue.capacity); } });
    new Gauge({ name: 'tgcnet_live_tensors', help: 'libtorch tensors alive (flat when nothing leaks)', registers, collect() { this.set(memory().tensors); } });
    new Gauge({ name: 'tgcnet_process_resident_memory_bytes', help: 'resident set size of the server process', registers, collect() { this.set(process.memoryUsage().rss); } });
    const load = new Gauge({ name: 'tgcnet_model_load_seconds', help: 'time to load the model and its checkpoint at start-up', registers });
    if (modelLoadSeconds !== null) load.set(modelLoadSeconds);
  }

  /** Counts a finished request; an unknown route is one label, so 404 probes cannot grow the series. */
  observe(request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url ?? 'unmatched';
    this.#requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    this.#latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  }
}

// GET /metrics: the Prometheus exposition, only when metrics are on (otherwise the route does not exist: 404).
import { Elysia } from "elysia";
import { observed, type RequestObserver } from "../observability/access.ts";
import type { GatewayMetrics } from "../observability/gateway-metrics.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../observability/metrics.ts";

export function metricsRoute(metrics: GatewayMetrics | undefined, observer: RequestObserver, requestIdOf: (r: Request) => string) {
  const app = new Elysia();
  if (!metrics) return app;
  return app.get(
    "/metrics",
    observed(observer, "/metrics", ({ request }) => {
      // Requests that have finished but whose records still wait for the end of the turn are counted too.
      observer.flush?.();
      return new Response(metrics.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "x-request-id": requestIdOf(request) } });
    }),
  );
}

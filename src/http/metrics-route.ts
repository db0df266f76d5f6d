// GET /metrics: the Prometheus exposition, only when metrics are on (otherwise the route does not exist: 404).
import { Elysia } from "elysia";
import { observed, type RequestObserver } from "../observability/access.ts";
import type { GatewayMetrics } from "../observability/gateway-metrics.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../observability/metrics.ts";
import { ROUTES } from "../routes.ts";

export function metricsRoute(metrics: GatewayMetrics | undefined, observer: RequestObserver) {
  const app = new Elysia();
  if (!metrics) return app;
  return app.get(
    ROUTES.metrics,
    observed(observer, ROUTES.metrics, (c: { request: Request }) => {
      // The app's global derive gives every route its request id (this plugin's too); its type stays in app.ts.
      const { requestId } = c as unknown as { requestId: string };
      // Requests that have finished but whose records still wait for the end of the turn are counted too.
      observer.flush?.();
      return new Response(metrics.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "x-request-id": requestId } });
    }),
  );
}

// The metrics registry and its Prometheus text: buckets, cumulative counts, label escaping, bounded cardinality.
import { describe, expect, test } from "bun:test";
import { Histogram } from "../../src/observability/histogram.ts";
import { BoundedLabel } from "../../src/observability/labels.ts";
import { MAX_SERIES, Registry } from "../../src/observability/metrics.ts";

describe("histogram", () => {
  test("an observation lands in the first bucket whose bound is >= it; +Inf takes the rest", () => {
    const h = new Histogram([0.1, 1, 10]);
    for (const v of [0.05, 0.1, 0.5, 1, 20]) h.observe(v);
    expect([...h.counts]).toEqual([2, 2, 0, 1]);
    expect(h.cumulative()).toEqual([2, 4, 4, 5]);
    expect(h.count).toBe(5);
    expect(h.sum).toBeCloseTo(21.65);
  });
});

describe("Prometheus exposition", () => {
  test("counters and histograms with HELP, TYPE, labels, buckets, _sum and _count", () => {
    const reg = new Registry();
    const c = reg.counter("x_total", "Things.", ["provider", "status"]);
    c.labels("openai", "200").inc();
    c.labels("openai", "200").inc(2);
    c.labels("mock", "502").inc();
    const h = reg.histogram("x_seconds", "Durations.", ["provider"], [0.5, 1]);
    h.labels("openai").observe(0.25);
    h.labels("openai").observe(2);
    reg.gauge("x_in_flight", "Gauge.", ["provider"], () => [[["openai"], 3]]);
    expect(reg.render()).toBe(
      [
        "# HELP x_total Things.",
        "# TYPE x_total counter",
        'x_total{provider="openai",status="200"} 3',
        'x_total{provider="mock",status="502"} 1',
        "# HELP x_seconds Durations.",
        "# TYPE x_seconds histogram",
        'x_seconds_bucket{provider="openai",le="0.5"} 1',
        'x_seconds_bucket{provider="openai",le="1"} 1',
        'x_seconds_bucket{provider="openai",le="+Inf"} 2',
        'x_seconds_sum{provider="openai"} 2.25',
        'x_seconds_count{provider="openai"} 2',
        "# HELP x_in_flight Gauge.",
        "# TYPE x_in_flight gauge",
        'x_in_flight{provider="openai"} 3',
        "",
      ].join("\n"),
    );
  });

  test("a histogram without labels has only le on its buckets", () => {
    const reg = new Registry();
    reg.histogram("y_seconds", "Y.", [], [1]).labels().observe(3);
    expect(reg.render()).toContain('y_seconds_bucket{le="+Inf"} 1\ny_seconds_sum 3\ny_seconds_count 1');
  });

  test("label values are escaped", () => {
    const reg = new Registry();
    reg.counter("z_total", "Z.", ["v"]).labels('a"b\\c\nd').inc();
    expect(reg.render()).toContain('z_total{v="a\\"b\\\\c\\nd"} 1');
  });

  test("the same label values give the same series object (cached, nothing allocated on later updates)", () => {
    const reg = new Registry();
    const f = reg.counter("s_total", "S.", ["a", "b"]);
    expect(f.labels("x", "y")).toBe(f.labels("x", "y"));
    expect(f.labels("x", "y")).not.toBe(f.labels("xy", ""));
  });

  test("past the series cap new label sets fold into one `other` series", () => {
    const reg = new Registry();
    const f = reg.counter("many_total", "Many.", ["id"]);
    for (let i = 0; i < MAX_SERIES + 50; i++) f.labels(`v${i}`).inc();
    const lines = reg.render().split("\n").filter((l) => l.startsWith("many_total"));
    expect(lines.length).toBe(MAX_SERIES + 1);
    expect(lines).toContain('many_total{id="other"} 50');
  });
});

describe("bounded labels", () => {
  test("known values pass, unknown become `other`, missing becomes `none`", () => {
    const l = new BoundedLabel(["gpt-4o", "smart"]);
    expect(l.of("gpt-4o")).toBe("gpt-4o");
    expect(l.of("smart")).toBe("smart");
    expect(l.of("gpt-4o-anything-the-client-sends")).toBe("other");
    expect(l.of(undefined)).toBe("none");
  });

  test("with room, the first unknown values are admitted, then `other`", () => {
    const l = new BoundedLabel([], 2);
    expect(l.of("read_file")).toBe("read_file");
    expect(l.of("write_file")).toBe("write_file");
    expect(l.of("read_file")).toBe("read_file");
    expect(l.of("third")).toBe("other");
  });
});

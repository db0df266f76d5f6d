// A minimal metrics registry and the Prometheus text exposition (format 0.0.4), written here to keep the hot path
// ours: a series is created once per label set and cached, an update is a Map lookup and an increment.
import { Histogram } from "./histogram.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Distinct label sets per metric before new ones fold into one `other` series: a guard, labels are bounded upstream. */
export const MAX_SERIES = 2000;

export class Counter {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

type Kind = "counter" | "histogram" | "gauge";

interface Series<S> {
  labels: string;
  s: S;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN";
}

abstract class Family<S> {
  protected readonly series = new Map<string, Series<S>>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly kind: Kind,
    readonly labelNames: readonly string[],
  ) {}

  protected abstract create(): S;

  /** The series for these label values (in labelNames order), created on first use. */
  labels(...values: string[]): S {
    const key = values.join("\u0000");
    let hit = this.series.get(key);
    if (!hit) {
      if (this.series.size >= MAX_SERIES) return this.overflow();
      hit = { labels: labelText(this.labelNames, values), s: this.create() };
      this.series.set(key, hit);
    }
    return hit.s;
  }

  /** The one series every label set past the cap shares: all its labels say `other`. */
  private overflow(): S {
    const values = this.labelNames.map(() => "other");
    const key = values.join("\u0000");
    let hit = this.series.get(key);
    if (!hit) {
      hit = { labels: labelText(this.labelNames, values), s: this.create() };
      this.series.set(key, hit);
    }
    return hit.s;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.kind}`);
    for (const { labels, s } of this.series.values()) this.renderSeries(out, labels, s);
  }

  protected abstract renderSeries(out: string[], labels: string, s: S): void;
}

export class CounterFamily extends Family<Counter> {
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, "counter", labelNames);
  }
  protected create() {
    return new Counter();
  }
  protected renderSeries(out: string[], labels: string, s: Counter) {
    out.push(`${this.name}${labels} ${num(s.value)}`);
  }
}

export class HistogramFamily extends Family<Histogram> {
  private readonly les: string[];
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
  ) {
    super(name, help, "histogram", labelNames);
    this.les = [...bounds.map(num), "+Inf"];
  }
  protected create() {
    return new Histogram(this.bounds);
  }
  protected renderSeries(out: string[], labels: string, h: Histogram) {
    const inner = labels ? `${labels.slice(1, -1)},` : "";
    const cum = h.cumulative();
    for (let i = 0; i < cum.length; i++) out.push(`${this.name}_bucket{${inner}le="${this.les[i]}"} ${cum[i]}`);
    out.push(`${this.name}_sum${labels} ${num(h.sum)}`, `${this.name}_count${labels} ${h.count}`);
  }
}

/** A gauge read at scrape time: nothing on the hot path, the value comes from whoever owns it. */
export class GaugeFamily {
  readonly kind = "gauge";
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly collect: () => Iterable<[values: string[], value: number]>,
  ) {}
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    for (const [values, v] of this.collect()) out.push(`${this.name}${labelText(this.labelNames, values)} ${num(v)}`);
  }
}

export class Registry {
  private readonly families: Array<{ render(out: string[]): void }> = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): CounterFamily {
    return this.add(new CounterFamily(name, help, labelNames));
  }
  histogram(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]): HistogramFamily {
    return this.add(new HistogramFamily(name, help, labelNames, bounds));
  }
  gauge(name: string, help: string, labelNames: readonly string[], collect: () => Iterable<[values: string[], value: number]>): GaugeFamily {
    return this.add(new GaugeFamily(name, help, labelNames, collect));
  }

  private add<F extends { render(out: string[]): void }>(f: F): F {
    this.families.push(f);
    return f;
  }

  /** The whole exposition, newline-terminated. */
  render(): string {
    const out: string[] = [];
    for (const f of this.families) f.render(out);
    out.push("");
    return out.join("\n");
  }
}

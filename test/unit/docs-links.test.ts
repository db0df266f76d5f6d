// Every relative Markdown link in README.md and docs/*.md points at a file that exists, and every #anchor at a
// heading of that file (GitHub's slugs: lowercase, punctuation dropped, spaces → hyphens, repeats get -1, -2, …).
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");
const files = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** Lines outside fenced code blocks. */
function prose(text: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced) out.push(line);
  }
  return out;
}

export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchorsOf(path: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(readFileSync(path, "utf8"))) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

interface Link {
  file: string;
  target: string;
}

function linksOf(file: string): Link[] {
  const out: Link[] = [];
  for (const line of prose(readFileSync(join(root, file), "utf8"))) {
    const code = line.replace(/`[^`]*`/g, "");
    for (const m of code.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      out.push({ file, target });
    }
  }
  return out;
}

describe("docs links", () => {
  test("the README and every docs file are found", () => {
    expect(files).toContain("README.md");
    expect(files.length).toBeGreaterThan(1);
  });

  for (const file of files) {
    test(`${file}: every relative link and anchor resolves`, () => {
      const broken: string[] = [];
      for (const { target } of linksOf(file)) {
        const [pathPart, anchor] = target.split("#", 2) as [string, string | undefined];
        const path = pathPart === "" ? join(root, file) : resolve(dirname(join(root, file)), decodeURI(pathPart));
        if (!existsSync(path)) {
          broken.push(`${target}: no file ${path.slice(root.length + 1)}`);
          continue;
        }
        if (anchor !== undefined && path.endsWith(".md") && !anchorsOf(path).has(anchor)) {
          broken.push(`${target}: no heading for #${anchor}`);
        }
      }
      expect(broken).toEqual([]);
    });
  }

  test("slugs follow GitHub's rules", () => {
    expect(slug("Governance: limits, retries, failover, load balancing")).toBe("governance-limits-retries-failover-load-balancing");
    expect(slug("openai (and OpenAI-compatible upstreams)")).toBe("openai-and-openai-compatible-upstreams");
    expect(slug("Using it from the OpenAI SDKs")).toBe("using-it-from-the-openai-sdks");
  });
});

// Table lookups by names that come from outside (clients, upstreams, config): own entries only, so a name such as
// "constructor" or "__proto__" finds nothing instead of one of Object.prototype's members.

export function own<V>(table: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

// A virtual key's secret and the digest the store keeps of it. Apart from virtual.ts so that the admin routes can
// make keys without loading the store's modules at startup (they come in through a dynamic import).

/** The secret's digest as the store keeps it: SHA-256, lowercase hex. */
export function keyDigest(secret: string): string {
  return Bun.SHA256.hash(secret, "hex");
}

/** A new secret: `sk-alloy-` and 32 random bytes, base64url. */
export function newSecret(): string {
  return `sk-alloy-${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}`;
}

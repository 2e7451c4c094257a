/** file:///a/b -> /a/b (POSIX; percent-decoded). */
export function fromFileUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol !== "file:") throw new Error(`not a file: URL: ${url}`);
  return decodeURIComponent(u.pathname);
}

/** /a/b -> file:///a/b */
export function toFileUrl(path: string): string {
  return new URL("file://" + path.split("/").map(encodeURIComponent).join("/")).href;
}

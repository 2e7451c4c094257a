import { describe, expect, it } from "vitest";
import { Rng } from "../lib/util/random.ts";

describe("Rng", () => {
  it("same seed, same stream; different seed, different stream", () => {
    const a = new Rng(7), b = new Rng(7), c = new Rng(8);
    const xa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xa);
  });
  it("state round-trips", () => {
    const a = new Rng(3);
    a.next();
    const s = a.getState();
    const x = a.next();
    const b = new Rng(99);
    b.setState(s);
    expect(b.next()).toBe(x);
  });
  it("uniform mean and normal variance are about right", () => {
    const r = new Rng(1);
    let m = 0, v = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) m += r.next();
    for (let i = 0; i < n; i++) v += r.normal() ** 2;
    expect(Math.abs(m / n - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(v / n - 1)).toBeLessThan(0.05);
  });
});

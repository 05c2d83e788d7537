// Seeded randomness for the Dataverse simulator: the same seed gives the same ids and the same fault decisions.
// Each concern (ids, request faults, webhook faults) draws from its own stream so that, say, an extra id drawn by a
// test does not shift which webhook delivery the fault plan drops.

/** A small, fast, seedable PRNG (sfc32) returning floats in [0, 1). */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    // splitmix32 spreads a small integer seed over the four words of state.
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** The next 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** True with the given probability (0..1). */
  chance(probability: number): boolean {
    if (probability <= 0) return false;
    if (probability >= 1) return true;
    return this.next() < probability;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A version-4-shaped GUID in Dataverse's lower-case form. */
  guid(): string {
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    const w = hex(this.uint32()) + hex(this.uint32()) + hex(this.uint32()) + hex(this.uint32());
    const variant = ((parseInt(w[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
    return `${w.slice(0, 8)}-${w.slice(8, 12)}-4${w.slice(13, 16)}-${variant}${w.slice(17, 20)}-${w.slice(20, 32)}`;
  }
}

/** Anything that hands out GUIDs (a Prng, or a view of one that can be reseeded underneath). */
export interface IdSource {
  guid(): string;
}

/**
 * Record ids as Dataverse assigns them to records created without one: sequential GUIDs in the manner of SQL
 * Server's NEWSEQUENTIALID (https://learn.microsoft.com/sql/t-sql/functions/newsequentialid-transact-sql), which
 * wraps Windows' UuidCreateSequential (https://learn.microsoft.com/windows/win32/api/rpcdce/nf-rpcdce-uuidcreatesequential):
 * a version-1 UUID (60-bit timestamp, clock sequence, node) whose first three fields are written little-endian. So
 * `5c5a5b54-2a7a-ee11-8179-000d3a1c4a2b` decodes to 2023-11-03: the third group is the byte-swapped version and
 * high time bits (0x11ee, hence a "version nibble" of e), the fourth the clock sequence with the RFC variant, the last
 * the server's MAC address (00-0d-3a is a Microsoft Azure prefix); the first groups move with every id. The clock
 * starts at a seeded instant and ticks on by a seeded step per id, so the same seed gives the same ids.
 */
export class SequentialGuids implements IdSource {
  private ticks: bigint;
  private readonly tail: string;

  constructor(private readonly prng: Prng) {
    // 100-ns intervals since 1582-10-15 (the UUID epoch), from a seeded instant in the year after 2023-10-01.
    const startMs = Date.UTC(2023, 9, 1) + prng.int(0, 365 * 86400) * 1000;
    this.ticks = (BigInt(startMs) + 12_219_292_800_000n) * 10_000n;
    const clockSequence = 0x8000 | (prng.uint32() & 0x3fff);
    const node = [0x00, 0x0d, 0x3a, prng.int(0, 255), prng.int(0, 255), prng.int(0, 255)];
    this.tail = `${clockSequence.toString(16).padStart(4, '0')}-${node.map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  }

  guid(): string {
    this.ticks += BigInt(1 + this.prng.int(0, 4095));
    const timeLow = Number(this.ticks & 0xffffffffn);
    const timeMid = Number((this.ticks >> 32n) & 0xffffn);
    const timeHiAndVersion = Number((this.ticks >> 48n) & 0x0fffn) | 0x1000;
    const le = (value: number, bytes: number) => Array.from({ length: bytes }, (_, i) => ((value >>> (8 * i)) & 0xff).toString(16).padStart(2, '0')).join('');
    return `${le(timeLow, 4)}-${le(timeMid, 2)}-${le(timeHiAndVersion, 2)}-${this.tail}`;
  }
}

/**
 * pcapng timestamps are 64-bit counts of if_tsresol units. Capture time in the pipeline is
 * integer microseconds (src/core/time.ts); the common resolutions (µs, ns) convert in plain
 * double arithmetic that stays exact, the rare ones through BigInt.
 */

const TWO32 = 4294967296;

/** How one interface's timestamps become microseconds; built once per Interface Description. */
export class TsConverter {
  /** 0: µs; 1: units finer than µs by `div` (exact in doubles); 2: coarser by `mul`; 3: BigInt. */
  private readonly kind: 0 | 1 | 2 | 3;
  private readonly div: number = 1;
  private readonly mul: number = 1;
  private readonly bigNum: bigint = 1n;
  private readonly bigDen: bigint = 1n;
  /** if_tsoffset, in µs. */
  private readonly offsetUs: number;

  constructor(tsresol: number, tsoffsetSeconds: number) {
    this.offsetUs = tsoffsetSeconds * 1_000_000;
    if (tsresol & 0x80) {
      // 2^-n seconds: µs = units * 10^6 / 2^n.
      this.kind = 3;
      this.bigNum = 1_000_000n;
      this.bigDen = 1n << BigInt(tsresol & 0x7f);
    } else if (tsresol === 6) {
      this.kind = 0;
    } else if (tsresol > 6) {
      const div = 10 ** (tsresol - 6);
      // high % div fits 2^32 * div exactly in a double while div <= 2^21 (10^6 here).
      if (tsresol <= 12) {
        this.kind = 1;
        this.div = div;
      } else {
        this.kind = 3;
        this.bigDen = 10n ** BigInt(tsresol - 6);
      }
    } else {
      this.kind = 2;
      this.mul = 10 ** (6 - tsresol);
    }
  }

  toUs(high: number, low: number): number {
    switch (this.kind) {
      case 0:
        return high * TWO32 + low + this.offsetUs;
      case 1: {
        const d = this.div;
        const qh = Math.floor(high / d);
        const rh = high - qh * d;
        return qh * TWO32 + Math.floor((rh * TWO32 + low) / d) + this.offsetUs;
      }
      case 2:
        return (high * TWO32 + low) * this.mul + this.offsetUs;
      default: {
        const units = (BigInt(high) << 32n) | BigInt(low);
        return Number((units * this.bigNum) / this.bigDen) + this.offsetUs;
      }
    }
  }
}

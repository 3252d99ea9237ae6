/**
 * Process-wide metrics for `proxy_define_metric` and friends, plus the host's own
 * stats, in a SharedArrayBuffer so that every worker thread updates the same numbers
 * (Envoy's stats store is process wide too). Rules follow Envoy
 * (source/extensions/common/wasm/context.cc `defineMetric`, `incrementMetric`,
 * `recordMetric`, `getMetric`):
 *
 * - a metric is identified by name and type; defining it again returns the same one;
 * - counters only grow; gauges are set or moved by a signed delta (u64, like Envoy);
 * - histograms record values into Envoy's default buckets (source/common/stats/
 *   histogram_impl.h `ConstSupportedBuckets`), with a sample count and sum. Envoy keeps
 *   them in a libcircllhist histogram (`hist_insert_intscale`: bins of two significant
 *   digits, [10, 11), [100, 110)...) and reports from its bins: a bucket `le=B` counts the
 *   samples whose bin is at or below B's bin (`hist_approx_count_below`: 105 counts under
 *   100), and the sum is `hist_approx_sum`, each bin's count at the bin's minimum-error
 *   midpoint (`hist_bucket_midpoint`: bottom + width * bottom / (bottom + top)), summed
 *   over the bins in ascending order. The store keeps the first `HISTOGRAM_BINS` bins a
 *   histogram meets with their counts, so that its sum is Envoy's to the last bit; samples
 *   in further bins add their midpoint to a running sum instead (Envoy's value up to
 *   floating-point rounding).
 *
 * Wasm-defined names are stored with Envoy's custom namespace prefix `wasmcustom.`
 * (common/wasm/stats_handler.h `CustomStatNamespace`), which the Prometheus rendering
 * strips again, exactly as Envoy's admin does.
 *
 * Layout: header words [lock, count, name bytes used, value slots used]; metric records
 * (type, name offset, name length, first value slot) at byte 256; then the name area;
 * then the 64-bit value slots (a histogram uses count, sum, one slot per bucket, the
 * running midpoint sum (float64 bits) of the samples past its bin table, and the bin table:
 * bin key and count per bin).
 */
import { MetricType } from '../abi.ts';
import { lock, unlock } from './sab.ts';

const LOCK = 0;
const COUNT = 1;
const NAMES_USED = 2;
const SLOTS_USED = 3;
const MAX_METRICS_WORD = 4;
const NAME_BYTES_WORD = 5;
const RECORDS_BYTE = 256;
const RECORD_WORDS = 4;

/** Envoy's default histogram bucket bounds. */
export const HISTOGRAM_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
  1800000, 3600000,
] as const;
/** Bins (libcircllhist buckets) a histogram counts one by one; see the header. */
const HISTOGRAM_BINS = 64;
const OVERFLOW_SLOT = 2 + HISTOGRAM_BUCKETS.length;
const BINS_SLOT = OVERFLOW_SLOT + 1;
const HISTOGRAM_SLOTS = BINS_SLOT + 2 * HISTOGRAM_BINS;

/** libcircllhist's `power_of_ten` for the exponents of 64-bit integers. */
const POW10 = Array.from({ length: 20 }, (_, i) => Number(`1e${i}`));
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** libcircllhist `int_scale_to_hist_bucket(value, 0)` (Envoy passes the u64 as int64): [val, exp]. */
function binOf(value: bigint): [number, number] {
  let v = BigInt.asIntN(64, value);
  if (v === 0n) return [0, 0];
  let sign = 1;
  let exp = 1;
  if (v < 0n) {
    v = v === INT64_MIN ? INT64_MAX : -v;
    sign = -1;
  }
  if (v < 10n) {
    v *= 10n;
    exp--;
  }
  while (v >= 100n) {
    v /= 10n;
    exp++;
  }
  return [sign * Number(v), exp];
}

/** `hist_bucket_to_double`: the bin's bottom (its value nearest zero). */
function binBottom(val: number, exp: number): number {
  return val === 0 ? 0 : (val / 10) * POW10[exp];
}

/** `hist_bucket_midpoint`: the minimum-error midpoint of a bin. */
function binMidpoint(val: number, exp: number): number {
  if (val === 0) return 0;
  const bottom = binBottom(val, exp);
  let interval = POW10[exp] / 10;
  if (bottom < 0) interval *= -1;
  const top = bottom + interval;
  return bottom + interval * (bottom / (bottom + top));
}

/** A bin as a non-zero slot value (its int8 val and exp, plus one). */
function binKey(val: number, exp: number): bigint {
  return BigInt((((val & 0xff) << 8) | (exp & 0xff)) + 1);
}

function unbinKey(key: bigint): [number, number] {
  const k = Number(key) - 1;
  return [(k << 16) >> 24, (k << 24) >> 24];
}

const f64 = new Float64Array(1);
const f64Bits = new BigInt64Array(f64.buffer);

function toBits(x: number): bigint {
  f64[0] = x;
  return f64Bits[0];
}

function fromBits(bits: bigint): number {
  f64Bits[0] = bits;
  return f64[0];
}

/** Namespace Envoy prepends to every metric a Wasm module defines. */
export const CUSTOM_STAT_NAMESPACE = 'wasmcustom.';

export interface MetricsOptions {
  /** Most metrics in the process. Default 8192. */
  maxMetrics?: number;
  /** Bytes for all metric names. Default 1 MiB. */
  nameBytes?: number;
}

export interface MetricSnapshot {
  name: string;
  type: MetricType;
  /** Counter or gauge value (u64, as Envoy prints it). */
  value: bigint;
  /**
   * Histograms: samples, their exact sum, per-bucket (non-cumulative) counts, and the sum
   * Envoy reports (`hist_approx_sum`, see the header).
   */
  histogram?: { count: bigint; sum: bigint; buckets: bigint[]; approxSum: number };
}

export class MetricStore {
  readonly buffer: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly values: BigInt64Array;
  private readonly maxMetrics: number;
  private readonly namesByte: number;
  private readonly nameBytes: number;
  /** This thread's cache of `type:name` → metric index (metrics are never removed). */
  private readonly cache = new Map<string, number>();

  static create(options: MetricsOptions = {}): MetricStore {
    const maxMetrics = options.maxMetrics ?? 8192;
    const nameBytes = options.nameBytes ?? 1024 * 1024;
    const slotBytes = maxMetrics * 4 * 8;
    const valuesByte = align8(RECORDS_BYTE + maxMetrics * RECORD_WORDS * 4 + nameBytes);
    const buffer = new SharedArrayBuffer(valuesByte + slotBytes);
    const i32 = new Int32Array(buffer);
    i32[MAX_METRICS_WORD] = maxMetrics;
    i32[NAME_BYTES_WORD] = nameBytes;
    return new MetricStore(buffer);
  }

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.maxMetrics = this.i32[MAX_METRICS_WORD];
    this.nameBytes = this.i32[NAME_BYTES_WORD];
    this.namesByte = RECORDS_BYTE + this.maxMetrics * RECORD_WORDS * 4;
    const valuesByte = align8(this.namesByte + this.nameBytes);
    this.values = new BigInt64Array(buffer, valuesByte);
  }

  /**
   * Returns the index of metric (`name`, `type`), creating it at zero if new; -1 when
   * the store is full.
   */
  define(name: string, type: MetricType): number {
    const cacheKey = `${type}:${name}`;
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const bytes = Buffer.from(name);
    const { i32, u8 } = this;
    lock(i32, LOCK);
    let index = -1;
    try {
      const count = i32[COUNT];
      for (let i = 0; i < count; i++) {
        const r = recordWord(i);
        if (i32[r] !== type || i32[r + 2] !== bytes.length) continue;
        if (Buffer.compare(bytes, u8.subarray(i32[r + 1], i32[r + 1] + bytes.length)) === 0) {
          index = i;
          break;
        }
      }
      if (index < 0) {
        const slots = type === MetricType.Histogram ? HISTOGRAM_SLOTS : 1;
        const slot = i32[SLOTS_USED];
        const nameOff = this.namesByte + i32[NAMES_USED];
        if (count >= this.maxMetrics || slot + slots > this.values.length || i32[NAMES_USED] + bytes.length > this.nameBytes) {
          return -1;
        }
        u8.set(bytes, nameOff);
        const r = recordWord(count);
        i32[r] = type;
        i32[r + 1] = nameOff;
        i32[r + 2] = bytes.length;
        i32[r + 3] = slot;
        for (let s = 0; s < slots; s++) Atomics.store(this.values, slot + s, 0n);
        i32[NAMES_USED] += bytes.length;
        i32[SLOTS_USED] = slot + slots;
        // Publish last, so that readers scanning without the lock see complete records.
        Atomics.store(i32, COUNT, count + 1);
        index = count;
      }
    } finally {
      unlock(i32, LOCK);
    }
    this.cache.set(cacheKey, index);
    return index;
  }

  typeOf(index: number): MetricType {
    return this.i32[recordWord(index)];
  }

  /** Adds `delta` (may be negative for gauges) atomically. */
  add(index: number, delta: bigint): void {
    Atomics.add(this.values, this.i32[recordWord(index) + 3], delta);
  }

  set(index: number, value: bigint): void {
    Atomics.store(this.values, this.i32[recordWord(index) + 3], BigInt.asIntN(64, value));
  }

  /** Current value as unsigned 64-bit (histograms: the sample count). */
  get(index: number): bigint {
    return BigInt.asUintN(64, Atomics.load(this.values, this.i32[recordWord(index) + 3]));
  }

  /** Records one histogram sample (a u64), in its bucket and bin as Envoy does. */
  record(index: number, value: bigint): void {
    const values = this.values;
    const slot = this.i32[recordWord(index) + 3];
    Atomics.add(values, slot, 1n);
    Atomics.add(values, slot + 1, value);
    const [val, exp] = binOf(value);
    const bottom = binBottom(val, exp);
    let b = 0;
    while (b < HISTOGRAM_BUCKETS.length && bottom > HISTOGRAM_BUCKETS[b]) b++;
    if (b < HISTOGRAM_BUCKETS.length) Atomics.add(values, slot + 2 + b, 1n);
    const key = binKey(val, exp);
    for (let i = 0; i < HISTOGRAM_BINS; i++) {
      const at = slot + BINS_SLOT + 2 * i;
      let held = Atomics.load(values, at);
      if (held === 0n) {
        // Claim the free entry; another thread may have claimed it (for this bin or another) first.
        held = Atomics.compareExchange(values, at, 0n, key);
        if (held === 0n) held = key;
      }
      if (held === key) {
        Atomics.add(values, at + 1, 1n);
        return;
      }
    }
    const mid = binMidpoint(val, exp);
    for (;;) {
      const old = Atomics.load(values, slot + OVERFLOW_SLOT);
      if (Atomics.compareExchange(values, slot + OVERFLOW_SLOT, old, toBits(fromBits(old) + mid)) === old) return;
    }
  }

  /** libcircllhist `hist_approx_sum` over the bin table (bins in ascending order), plus the running sum past it. */
  private approxSum(slot: number): number {
    const bins: Array<{ bottom: number; mid: number; count: bigint }> = [];
    for (let i = 0; i < HISTOGRAM_BINS; i++) {
      const key = Atomics.load(this.values, slot + BINS_SLOT + 2 * i);
      if (key === 0n) break;
      const [val, exp] = unbinKey(key);
      bins.push({ bottom: binBottom(val, exp), mid: binMidpoint(val, exp), count: Atomics.load(this.values, slot + BINS_SLOT + 2 * i + 1) });
    }
    bins.sort((a, b) => a.bottom - b.bottom);
    let sum = 0;
    for (const bin of bins) sum += bin.mid * Number(bin.count);
    return sum + fromBits(Atomics.load(this.values, slot + OVERFLOW_SLOT));
  }

  /** Looks a metric up by name (and type, if given); tests and tools. */
  find(name: string, type?: MetricType): number {
    const count = Atomics.load(this.i32, COUNT);
    for (let i = 0; i < count; i++) {
      const r = recordWord(i);
      if ((type === undefined || this.i32[r] === type) && this.nameOf(i) === name) return i;
    }
    return -1;
  }

  nameOf(index: number): string {
    const r = recordWord(index);
    return Buffer.from(this.u8.subarray(this.i32[r + 1], this.i32[r + 1] + this.i32[r + 2])).toString();
  }

  /** Every metric with its current value(s). */
  snapshot(): MetricSnapshot[] {
    const count = Atomics.load(this.i32, COUNT);
    const out: MetricSnapshot[] = [];
    for (let i = 0; i < count; i++) {
      const type = this.typeOf(i);
      const slot = this.i32[recordWord(i) + 3];
      const u = (s: number): bigint => BigInt.asUintN(64, Atomics.load(this.values, s));
      if (type === MetricType.Histogram) {
        const buckets = HISTOGRAM_BUCKETS.map((_, b) => u(slot + 2 + b));
        const histogram = { count: u(slot), sum: u(slot + 1), buckets, approxSum: this.approxSum(slot) };
        out.push({ name: this.nameOf(i), type, value: u(slot), histogram });
      } else {
        out.push({ name: this.nameOf(i), type, value: u(slot) });
      }
    }
    return out;
  }
}

function recordWord(index: number): number {
  return (RECORDS_BYTE >> 2) + index * RECORD_WORDS;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

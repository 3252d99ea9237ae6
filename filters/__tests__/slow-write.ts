/**
 * For the test-only racy modules (filters/<name>/__tests__/racy-entry.ts, never
 * shipped): a shared-data write slowed down to widen the race between workers. The VM
 * configuration picks the write:
 *
 *   "cas <µs>"    waits <µs> between the read and the write, then writes with the CAS
 *                 it read (the real filter, with a wider race window);
 *   "naive <µs>"  the same wait, then writes with CAS 0: an unconditional write.
 */
import { getCurrentTimeNanoseconds } from "../../assembly/proxy-wasm";

export class SlowWrite {
  naive: bool = false;
  waitNanos: u64 = 0;

  /** Reads the VM configuration (`RootContext.getVmConfiguration()`; null: "cas", no wait). */
  configure(vmConfiguration: ArrayBuffer | null): void {
    const words = (vmConfiguration === null ? "" : String.UTF8.decode(vmConfiguration)).split(" ");
    this.naive = words[0] == "naive";
    if (words.length > 1) this.waitNanos = U64.parseInt(words[1]) * 1000;
  }

  /** Busy-waits `waitNanos`, then returns the CAS to write with: `cas`, or 0 when naive. */
  casAfterWait(cas: u32): u32 {
    const until = getCurrentTimeNanoseconds() + this.waitNanos;
    while (getCurrentTimeNanoseconds() < until) {
      // another worker may read the same entry meanwhile
    }
    return this.naive ? 0 : cas;
  }
}

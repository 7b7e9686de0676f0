package io.couponstate.benchmarks;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;

/** Heap measurement helpers for the mains (not for JMH, which has {@code -prof gc}). */
final class Heap {

    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

    private Heap() {
    }

    /** Heap in use after a few full collections: what is retained. */
    static long usedAfterGc() {
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            used = Math.min(used, MEMORY.getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    /** Heap in use right now, without collecting. */
    static long usedNow() {
        return MEMORY.getHeapMemoryUsage().getUsed();
    }

    static String mb(long bytes) {
        return String.format("%,.0f MB", bytes / 1e6);
    }
}

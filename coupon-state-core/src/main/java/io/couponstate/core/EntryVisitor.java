package io.couponstate.core;

/** Receives one table entry: a code number and its non-zero source mask. */
@FunctionalInterface
interface EntryVisitor {
    void visit(long key, long mask);
}

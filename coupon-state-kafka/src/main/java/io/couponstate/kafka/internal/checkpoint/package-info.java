/**
 * The checkpoint machinery behind {@link io.couponstate.kafka.CouponCheckpoints}, one job per class:
 * {@link io.couponstate.kafka.internal.checkpoint.CheckpointDirectory} (lock, listing, retention, quarantine, stray
 * temporary files), {@link io.couponstate.kafka.internal.checkpoint.CheckpointFormat} (the file format as a descriptor:
 * names, magic, version, limits, header encoding and decoding), {@link
 * io.couponstate.kafka.internal.checkpoint.ChainRestore} (the newest intact chain into a state, with its fallback),
 * {@link io.couponstate.kafka.internal.checkpoint.CheckpointWriter} (base or delta, durable through core's
 * {@code DurableFiles}), {@link io.couponstate.kafka.internal.checkpoint.RestoreProgress} (what a watcher sees of a
 * restore) and {@link io.couponstate.kafka.internal.checkpoint.PartitionedMarker} (the file that gives a directory to
 * a partitioned runner). Not API: public only so that {@code io.couponstate.kafka} can reach them.
 *
 * <h2>Design notes</h2>
 *
 * <p><b>Chains.</b> A checkpoint is a base (a full snapshot) or a delta (the changes since the previous checkpoint,
 * from the state's change journal). Restore reads the newest intact base and then its deltas in order; it stops at the
 * first damaged delta, whose successors are quarantined with it (applying them would skip its changes). Retention keeps
 * what a restore needs: for a state with a journal, the newest base and its deltas, the previous chain deleted only
 * once a new base is durable (so a damaged newest base has no older fallback: the consumer then replays from the log);
 * for a state without one, the newest two bases (the older a fallback).
 *
 * <p><b>Damaged or incompatible.</b> A failed check is classified by {@code SnapshotFormatException.kind()}, for the
 * checkpoint header as for core's snapshot: DAMAGED (magic, checksum, truncation, impossible counts) falls back;
 * INCOMPATIBLE (a version we cannot read, a format or source limit that differs from the state's, all checked after a
 * checksum vouched for the bytes) and any other failure stop the restore with every file untouched. A wrong guess the
 * other way round would quarantine good checkpoints and silently replay from the log start.
 *
 * <p><b>Crashes.</b> Every file, a delta too, exists under its name only once it is durable (temporary file, fsync,
 * atomic rename, directory fsync), so a crash at any point leaves either the new checkpoint or the previous ones
 * intact, plus perhaps a temporary file ({@code <name>.<random>.tmp}) that the next restore deletes: safe, since the
 * directory lock says no other writer is in flight. Sequence numbers go past quarantined files too: a name is never
 * reused.
 *
 * <p><b>Progress.</b> A file is read through a counting channel below the 64 KiB buffers: it sees few, large reads and
 * consults the clock once per 4 MiB, so progress costs nothing next to decoding, whatever core's restore speed.
 */
package io.couponstate.kafka.internal.checkpoint;

package io.couponstate.core;

import io.couponstate.core.internal.AppendOnlyLongs;
import io.couponstate.core.internal.Codes;
import io.couponstate.core.internal.SourceRegistry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * What both implementations share: argument checks, the code format, the source registry, the listener, and the
 * read and listing methods built on four table primitives ({@link #add}, {@link #mask}, {@link #merge},
 * {@link #forEachEntry}). Package-private: users name {@link LockFreeCouponState} or {@link StripedLockCouponState}.
 */
abstract class AbstractCouponState implements CouponState {

    final CouponStateConfig config;
    final CodeFormat format;
    final SourceRegistry registry;
    final int threshold;
    final ValidityListener listener;
    /** Every code that reached the threshold, each once: appended at the exactly-once crossing. */
    private final AppendOnlyLongs valid = new AppendOnlyLongs();
    /**
     * The changes since the last checkpoint mark; null when {@code changeJournalCapacity} is 0. Recorded here on the
     * write path; marked only by {@link #chain}.
     */
    final ChangeJournal journal;
    /** The base/delta chain of this state: its one owner. */
    final CheckpointChain chain;

    AbstractCouponState(CouponStateConfig config) {
        this.config = Objects.requireNonNull(config, "config");
        this.format = config.codeFormat();
        this.registry = new SourceRegistry(config.maxSources());
        this.threshold = config.threshold();
        this.listener = config.validityListener();
        int journalCapacity = config.changeJournalCapacity();
        this.journal = journalCapacity == 0 ? null : new ChangeJournal(journalCapacity, !format.fitsPackedSlot());
        this.chain = new CheckpointChain(journal);
    }

    /** Sets source bit {@code sourceId} of {@code key}; the new source count if the bit was new, else 0. */
    abstract int add(long key, int sourceId);

    /** The source mask of {@code key}, 0 if unknown. Linearizable; never writes. */
    abstract long mask(long key);

    /**
     * Unions {@code mask} into {@code key}'s sources without telling the listener; true if this merge's update moved
     * the code's count from below the threshold to at least it (exactly one update per code does).
     */
    abstract boolean merge(long key, long mask);

    /** Visits every entry with a non-zero mask; weakly consistent. */
    abstract void forEachEntry(EntryVisitor visitor);

    /** Grows once so that {@code codes} codes in all fit without a further resize; safe under concurrent writers. */
    abstract void ensureCapacity(long codes);

    @Override
    public final int addObservation(CharSequence code, String source) {
        Objects.requireNonNull(code, "code");
        Objects.requireNonNull(source, "source");
        long key = format.encode(code);
        return record(key, registry.idOf(source));
    }

    @Override
    public final int addObservation(byte[] code, int offset, int length, int sourceId) {
        Objects.requireNonNull(code, "code");
        Objects.checkFromIndexSize(offset, length, code.length);
        checkSourceId(sourceId);
        long key = format.encode(code, offset, length);
        return record(key, sourceId);
    }

    private void checkSourceId(int sourceId) {
        if (sourceId < 0 || sourceId >= registry.capacity() || registry.name(sourceId) == null) {
            throw new IllegalArgumentException("sourceId: " + sourceId + " (expected: an id returned by sourceId(), "
                    + registry.count() + " registered)");
        }
    }

    /**
     * Checks every source id (a bad one is a misuse: nothing is applied), encodes and hashes every code into the
     * batch, lets the implementation apply the well-formed entries in one pass ({@link #addBatch}), then passes each
     * applied entry through {@link #recorded} in batch order. Allocates nothing unless a listener runs.
     */
    @Override
    public final int addObservations(ObservationBatch batch) {
        Objects.requireNonNull(batch, "batch");
        final int n = batch.size;
        final int[] sourceIds = batch.sourceIds;
        for (int i = 0; i < n; i++) {
            checkSourceId(sourceIds[i]);
        }
        final long[] keys = batch.keys;
        final long[] hashes = batch.hashes;
        final int[] lengths = batch.lengths;
        final int[] results = batch.results;
        final byte[] bytes = batch.bytes;
        final int min = format.minLength();
        final int max = format.maxLength();
        final boolean fold = format.caseInsensitive();
        for (int i = 0; i < n; i++) {
            int length = lengths[i];
            // a length beyond what the batch keeps is beyond every format: only the length is looked at then
            long key = length > ObservationBatch.MAX_CODE_BYTES ? Codes.BAD_LENGTH
                    : Codes.encode(bytes, ObservationBatch.offsetOf(i), length, min, max, fold);
            keys[i] = key;
            if (key > 0) {
                hashes[i] = Codes.mix(key);
            } else {
                results[i] = -1 - format.reasonOf(key, length).ordinal();
            }
        }
        addBatch(batch);
        int added = 0;
        RuntimeException failure = null;
        for (int i = 0; i < n; i++) {
            long key = keys[i];
            if (key <= 0) {
                continue;
            }
            int count = results[i];
            if (count > 0) {
                added++;
            }
            try {
                recorded(key, sourceIds[i], count);
            } catch (RuntimeException e) {
                // a listener that throws must not cost the later entries their recorded() call: rethrow after
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        batch.applied = true;
        if (failure != null) {
            throw failure;
        }
        return added;
    }

    /**
     * Applies every entry of {@code batch} whose {@code keys[i] > 0} (code number, with {@code hashes[i]} its
     * {@link Codes#mix}), writing what {@link #add} would have returned into {@code results[i]}, in batch order per
     * code. Must not call {@link #recorded}: the caller does, after this returns. This default applies them one by
     * one; implementations override it to overlap the entries' cache misses.
     */
    void addBatch(ObservationBatch batch) {
        final long[] keys = batch.keys;
        for (int i = 0, n = batch.size; i < n; i++) {
            if (keys[i] > 0) {
                batch.results[i] = add(keys[i], batch.sourceIds[i]);
            }
        }
    }

    private int record(long key, int sourceId) {
        int count = add(key, sourceId);
        recorded(key, sourceId, count);
        return count;
    }

    /**
     * What follows the table update of one observation, whichever path made it (one call or a batch entry):
     * {@code count} is what the update returned (0: nothing new). Every observation that changed the table passes
     * here exactly once, on the thread that made the change, so this is the one place for what must see each
     * change: the validity listener at the crossing (and what else records changes or crossings).
     */
    final void recorded(long key, int sourceId, int count) {
        if (count > 0 && journal != null) {
            journal.record(key, sourceId); // before anything can fail: a change the table holds is journaled
        }
        if (count == threshold) {
            valid.add(key); // the one crossing of this code: it is listed once
            if (listener != ValidityListener.NONE) {
                listener.onValid(Codes.decode(key), sources(mask(key)));
            }
        }
    }

    /**
     * Unions a snapshot entry into the table: a crossing is listed as valid, the listener is not told, and the
     * journal records nothing (restored content is durable already; a union of foreign data forces a base instead).
     */
    final void union(long key, long mask) {
        if (merge(key, mask)) {
            valid.add(key);
        }
    }

    /** Lists {@code keys[0..n)}, restored at or past the threshold by a whole-table restore that merged nothing. */
    final void restoredValid(long[] keys, int n) {
        valid.addAll(keys, n);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Costs the number of valid codes: they are listed at their crossing, so no table scan happens.
     */
    @Override
    public final long validCount() {
        return valid.count();
    }

    @Override
    public final int sourceId(String source) {
        return registry.idOf(source);
    }

    @Override
    public final Set<String> getObservations(CharSequence code) {
        long key = keyOrZero(code);
        return key > 0 ? sources(mask(key)) : Collections.emptySet();
    }

    @Override
    public final int observationCount(CharSequence code) {
        long key = keyOrZero(code);
        return key > 0 ? Long.bitCount(mask(key)) : 0;
    }

    @Override
    public final boolean isValid(CharSequence code) {
        return observationCount(code) >= threshold;
    }

    @Override
    public final boolean isWellFormed(CharSequence code) {
        return format.isWellFormed(code);
    }

    @Override
    public final List<String> getCouponCodesByObservationCount(int minSources) {
        List<String> out = new ArrayList<>();
        forEachCouponCode(minSources, out::add);
        return out;
    }

    @Override
    public final void forEachCouponCode(int minSources, Consumer<? super String> action) {
        if (minSources < 1) {
            throw new IllegalArgumentException("minSources: " + minSources + " (expected: >= 1)");
        }
        Objects.requireNonNull(action, "action");
        if (minSources >= threshold) {
            // every such code is valid: walk the valid codes, not the table
            valid.forEach(key -> {
                if (minSources == threshold || Long.bitCount(mask(key)) >= minSources) {
                    action.accept(Codes.decode(key));
                }
            });
            return;
        }
        forEachEntry((key, mask) -> {
            if (Long.bitCount(mask) >= minSources) {
                action.accept(Codes.decode(key));
            }
        });
    }

    @Override
    public final int threshold() {
        return threshold;
    }

    @Override
    public final CouponStateConfig config() {
        return config;
    }

    /**
     * The registered source names, in id order (a source's id is its index).
     *
     * @return the registered source names, in id order (a source's id is its index)
     */
    public final List<String> sourceNames() {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < registry.capacity(); i++) {
            String name = registry.name(i);
            if (name == null) {
                break;
            }
            names.add(name);
        }
        return Collections.unmodifiableList(names);
    }

    private long keyOrZero(CharSequence code) {
        return code == null ? 0 : format.encodeOrZero(code);
    }

    final Set<String> sources(long mask) {
        if (mask == 0) {
            return Collections.emptySet();
        }
        return Collections.unmodifiableSet(new LinkedHashSet<>(registry.names(mask)));
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "{size=" + size() + ", sources=" + sourceNames() + ", threshold="
                + threshold + ", format=" + format + "}";
    }
}

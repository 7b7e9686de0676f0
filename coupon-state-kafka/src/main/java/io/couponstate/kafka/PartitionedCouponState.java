package io.couponstate.kafka;

import io.couponstate.core.CodeFormat;
import io.couponstate.core.CompactCouponState;
import io.couponstate.core.CouponSnapshots;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.ObservationBatch;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.internal.partition.CodePartitioner;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * A {@link CouponState} split into one shard per Kafka partition number, for partitioned mode: a consumer group
 * assigns partition <i>p</i> of every (co-partitioned) source topic to one instance, which owns shard <i>p</i>. A code
 * belongs to the shard {@link #partitionOf(CharSequence)} names: the partition the Kafka producer's default
 * partitioner picks for the record key {@link CouponFilePublisher} sends with it.
 *
 * <pre>{@code
 * PartitionedCouponState state = new PartitionedCouponState(6, config, p -> new LockFreeCouponState(config));
 * state.addShard(0);                     // on assignment of partition 0 (or addShard(0, restored))
 * state.isValid("BIRTHDAY");             // NotOwnedException(partition 4) unless shard 4 is owned here
 * CouponState dropped = state.dropShard(0); // on revocation: checkpoint it, then let it go
 * }</pre>
 *
 * <p><b>The key.</b> {@code partitionOf(code)} is {@code Utils.toPositive(Utils.murmur2(key)) % partitions}, as
 * kafka-clients' {@code BuiltInPartitioner.partitionForKey}, where {@code key} is the code's ASCII bytes with
 * {@code a-z} upper-cased: the canonical code, whatever the format. {@link CouponFilePublisher} sends that key (the
 * code as published, upper-cased), so a code and its lower-case spelling land on one partition number in every
 * topic, which a case-insensitive format needs; under a case-sensitive format a code with a lower-case letter is
 * malformed wherever it lands. Another producer must key records the same way (the canonical code as ASCII bytes,
 * default partitioner), or its records land in shards that reads of their codes do not look in.
 *
 * <p><b>Ownership.</b> A shard is owned between {@link #addShard} and {@link #dropShard}. Single-code reads
 * ({@link #getObservations}, {@link #observationCount}, {@link #isValid}) and {@code addObservation} of a
 * well-formed code whose shard is not owned throw {@link NotOwnedException} carrying the partition; for owned codes
 * every {@link CouponState} method keeps its contract. A malformed code is not a question of ownership: reads answer
 * it as every state does (empty, 0, false) and writes reject it with {@code InvalidCouponCodeException}. Bulk
 * queries ({@link #size}, {@link #validCount}, the listings) cover the shards owned when they start.
 *
 * <p><b>Shards.</b> Each shard is a {@link LockFreeCouponState}, {@link StripedLockCouponState} or
 * {@link CompactCouponState} (the only kinds
 * {@code CouponSnapshots} checkpoints, and the only ones whose code format can be checked) from the supplied factory,
 * with the {@link CouponStateConfig#threshold() threshold}, {@link CouponStateConfig#codeFormat() code format} and
 * {@link CouponStateConfig#maxSources() maxSources} of the config given here; {@code addShard} refuses any other
 * with an {@link IllegalArgumentException} naming both values. The config's {@code expectedCodes} is the factory's
 * business: size each shard for its share.
 *
 * <p><b>Source ids</b> mean the same in every shard: {@link #sourceId(String)} interns a new name in every owned
 * shard in the same order, and a shard is given every registered name, in id order, before it is published. Do not
 * call {@code sourceId} on a shard directly. To restore a checkpoint, restore into {@link #newShard(int)} (the
 * snapshot reader remaps ids by name) and pass the result to {@link #addShard(int, CouponState)}, which refuses a
 * shard whose ids disagree with the registered ones (a state cannot be renumbered in place).
 *
 * <p><b>Concurrency.</b> Thread-safe. Per code, everything is linearizable as in the shard: a code lives in one
 * shard, so {@code addObservation} and the single-code reads of an owned code are linearizable, exactly one call per
 * code returns {@link #threshold()} while its shard stays here, and the progress guarantee is the shard's (lock-free
 * for {@link LockFreeCouponState}). Bulk queries are weakly consistent, like the shards' own, over the shards owned
 * when they start. {@code addShard}, {@code dropShard} and registrations of new sources are serialized by a lock
 * that no read or write takes; they publish a new shard array (copy-on-write, volatile), so a reader sees a shard
 * either owned and complete (registered sources included) or not owned, never half added. A call that read the
 * array just before a {@code dropShard} may still finish on the dropped shard after {@code dropShard} returned: a
 * read then answers from it (the shard's last state, correct as of the call's start), and a <em>write</em> would
 * land in a shard that may already be checkpointed. So the writer of a partition must stop writing it before it
 * drops the shard (the runner drops a partition only once its apply stage holds none of the partition's records).
 */
public final class PartitionedCouponState implements CouponState {

    /* design notes
     *
     * Layout: shards[p] is partition p's shard or null (not owned). The array is never written after it is
     * published: addShard/dropShard copy it under the lock and publish the copy through a volatile write, so a
     * reader needs one volatile load and no lock. Source names live in `names` (id order, copy-on-write under the
     * same lock) and `ids` (a concurrent map for the lock-free fast path of sourceId), and in a tiny state
     * (`registry`) that applies the core's rules and messages (maxSources, name length) before any shard is touched,
     * so a refused name changes nothing anywhere.
     *
     * Batches: an ObservationBatch exposes its entries to the core only, so addObservations applies the entries one
     * by one through addObservation (CouponState's default): correct, allocation-free, but without the core's
     * overlap of cache misses. Measured (8M distinct 10-character codes, one thread, pre-sized tables, 2 shared and
     * busy cores, three rounds): one LockFreeCouponState's addObservations 166-235 ns per observation, its single
     * calls 317-602 ns; this class's addObservations 403-1002 ns, the same as its single calls (395-945 ns); no
     * allocation after warm-up in any of them (ThreadMXBean). Routing into per-shard batches would need an entry
     * accessor in the core's ObservationBatch; the runner does not need it: it knows each record's partition, so it
     * fills one batch per partition and applies it with shard(p).addObservations(batch) at the core's speed
     * (checking partitionOf(code) == p per record, about one murmur2 of 10 bytes).
     *
     * How partitioned mode will use it (the runner side, a later change):
     * - Per-shard checkpoints: shard p's checkpoint is its CouponSnapshots chain (base + deltas) plus the offsets of
     *   partition p of every source topic, captured before the shard's write starts (everything below them is
     *   applied). One checkpoint directory per partition number, so a shard moves without the others.
     * - Revocation (onPartitionsRevoked): stop applying p, checkpoint shard p, dropShard(p), commit the offsets for
     *   monitoring. Lost (onPartitionsLost): dropShard(p) without committing anything.
     * - Assignment (onPartitionsAssigned): a shard is restored off the poll thread (poll() keeps the group
     *   membership alive; the partition is paused until its shard is ready): newShard(p), readChain the local
     *   checkpoint, seek every topic's partition p to the checkpoint's offsets (or to the beginning without one: the
     *   source topics keep everything, retention.ms=-1), replay to the end offsets captured at assignment, and only
     *   then addShard(p, restored): reads of p throw NotOwnedException until the shard is caught up. The runner
     *   also checks, per record, that partitionOf(code) is the record's partition (a foreign producer's key), and
     *   treats a mismatch as an invalid record rather than writing into a shard no read looks in.
     * - Owner discovery (runner.ownerOf(code) -> endpoint): two options.
     *   1. Assignment metadata: with the classic protocol, a custom ConsumerPartitionAssignor (range-like) carries
     *      each member's endpoint in its Subscription userData and hands everyone the full map in the Assignment
     *      userData (how Kafka Streams' StreamsPartitionAssignor does it). Exact and in step with the rebalance,
     *      no extra topic. But with group.protocol=consumer (KIP-848) assignment is server-side: client assignors and
     *      userData do not exist there, so this works with the classic protocol only.
     *   2. A compacted membership topic (key = partition number, value = endpoint + member id + generation/epoch +
     *      a timestamp), written by the new owner after addShard(p) and tombstoned or overwritten after a drop; every
     *      instance tails it with assign() from the beginning. Works identically under both protocols and with the
     *      server-side range assignor; costs one small topic and a short staleness window (a reader may see the
     *      previous owner for a moment: the forward then gets NotOwnedException, answers 503 with the last known
     *      endpoint, and the caller retries), and stale entries of a killed member remain until its partitions are
     *      reassigned and the new owner writes.
     *   Pick 2, because partitioned mode must work with both protocols and the consumer protocol is the future
     *   default; the generation/epoch in the value lets a reader ignore an older owner's late write.
     */


    private final int partitions;
    private final CouponStateConfig config;
    private final CodeFormat format;
    private final IntFunction<? extends CouponState> shardFactory;
    /** Serializes addShard, dropShard and the registration of new sources; never taken by reads or writes. */
    private final Object lock = new Object();
    /** Partition -> owned shard or null; copy-on-write under lock, published by a volatile write. */
    private volatile CouponState[] shards;
    /** Registered source names in id order; copy-on-write under lock, published by a volatile write. */
    private volatile String[] names = new String[0];
    /** Name -> id for the lock-free fast path of sourceId; written under lock after every shard has the name. */
    private final ConcurrentHashMap<String, Integer> ids = new ConcurrentHashMap<>();
    /** Applies the core's source rules before any shard sees a new name (written under lock only). */
    private final LockFreeCouponState registry;
    /** Throws the core's own InvalidCouponCodeException for a malformed code whose shard is not owned. */
    private final LockFreeCouponState formatProbe;

    /**
     * A partitioned state over {@code partitions} partition numbers, owning no shard yet; shards come from
     * {@code shardFactory} (given the partition number) and must match {@code config}'s threshold, code format and
     * maxSources.
     *
     * @param partitions the number of partitions
     * @param config the configuration
     * @param shardFactory the shard factory
     * @throws IllegalArgumentException unless {@code partitions >= 1}
     */
    public PartitionedCouponState(int partitions, CouponStateConfig config,
            IntFunction<? extends CouponState> shardFactory) {
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions: " + partitions + " (expected: >= 1)");
        }
        this.partitions = partitions;
        this.config = Objects.requireNonNull(config, "config");
        this.format = config.codeFormat();
        this.shardFactory = Objects.requireNonNull(shardFactory, "shardFactory");
        this.shards = new CouponState[partitions];
        CouponStateConfig small = CouponStateConfig.builder()
                .threshold(config.threshold())
                .codeLength(format.minLength(), format.maxLength())
                .caseInsensitive(format.caseInsensitive())
                .maxSources(config.maxSources())
                .build();
        this.registry = new LockFreeCouponState(small);
        this.formatProbe = new LockFreeCouponState(small);
    }

    /**
     * A partitioned state whose shards are {@code new LockFreeCouponState(config)}.
     *
     * @param partitions the number of partitions
     * @param config the configuration
     * @return a partitioned state whose shards are {@code new LockFreeCouponState(config)}
     */
    public static PartitionedCouponState lockFree(int partitions, CouponStateConfig config) {
        return new PartitionedCouponState(partitions, config, p -> new LockFreeCouponState(config));
    }

    // ---------------------------------------------------------------------------------------------------- routing

    /**
     * The number of partition numbers (shards) this state spans: the partition count of every source topic.
     *
     * @return the number of partition numbers (shards) this state spans: the partition count of every source topic
     */
    public int partitions() {
        return partitions;
    }

    /**
     * The partition the Kafka producer's default partitioner picks for {@code code}'s record key (its ASCII bytes,
     * {@code a-z} upper-cased; see the class javadoc) on a topic of {@link #partitions()} partitions. Defined for
     * any text (a non-ASCII code hashes its UTF-8 bytes); allocates nothing for ASCII.
     *
     * @param code the coupon code
     * @return the partition the Kafka producer's default partitioner picks for {@code code}'s record key (its ASCII
     *         bytes, {@code a-z} upper-cased; see the class javadoc) on a topic of {@link #partitions()} partitions
     */
    public int partitionOf(CharSequence code) {
        return CodePartitioner.partition(Objects.requireNonNull(code, "code"), partitions);
    }

    /**
     * {@link #partitionOf(CharSequence)} of the code {@code code[offset, offset + length)}; allocates nothing.
     *
     * @param code the coupon code
     * @param offset the index of the code's first byte in {@code code}
     * @param length the number of bytes of the code
     * @return what {@link #partitionOf(CharSequence)} returns
     */
    public int partitionOf(byte[] code, int offset, int length) {
        return CodePartitioner.partition(Objects.requireNonNull(code, "code"), offset, length, partitions);
    }

    // -------------------------------------------------------------------------------------------------- ownership

    /**
     * Whether the shard of {@code code} ({@link #partitionOf(CharSequence)}) is owned here.
     *
     * @param code the coupon code
     * @return whether the shard of {@code code} ({@link #partitionOf(CharSequence)}) is owned here
     */
    public boolean isOwned(CharSequence code) {
        return shards[partitionOf(code)] != null; // volatile read of the array
    }

    /**
     * Whether shard {@code partition} is owned here.
     *
     * @param partition the partition
     * @return whether shard {@code partition} is owned here
     */
    public boolean isOwned(int partition) {
        Objects.checkIndex(partition, partitions);
        return shards[partition] != null; // volatile read of the array
    }

    /**
     * The partitions whose shards are owned here, ascending; a snapshot, not a view.
     *
     * @return the partitions whose shards are owned here, ascending; a snapshot, not a view
     */
    public Set<Integer> ownedPartitions() {
        CouponState[] current = shards; // volatile read: one consistent array
        TreeSet<Integer> owned = new TreeSet<>();
        for (int p = 0; p < current.length; p++) {
            if (current[p] != null) {
                owned.add(p);
            }
        }
        return Collections.unmodifiableSet(owned);
    }

    /**
     * The owned shard of {@code partition}, or empty when it is not owned (for checkpoints of an owned shard).
     *
     * @param partition the partition
     * @return the owned shard of {@code partition}, or empty when it is not owned (for checkpoints of an owned shard)
     */
    public Optional<CouponState> shard(int partition) {
        Objects.checkIndex(partition, partitions);
        return Optional.ofNullable(shards[partition]); // volatile read of the array
    }

    /**
     * A new shard for {@code partition} from the factory, checked and holding every registered source name in id
     * order, but not owned: restore a checkpoint into it ({@code CouponSnapshots.readChain} remaps the checkpoint's
     * source ids by name), then {@link #addShard(int, CouponState) addShard(partition, it)}.
     *
     * @param partition the partition
     * @return a new shard for {@code partition} from the factory, checked and holding every registered source name in
     *         id order, but not owned: restore a checkpoint into it ({@code CouponSnapshots.readChain} remaps the
     *         checkpoint's source ids by name), then {@link #addShard(int, CouponState) addShard(partition, it)}
     * @throws IllegalArgumentException if the factory's state does not match (see {@link #addShard(int, CouponState)})
     */
    public CouponState newShard(int partition) {
        Objects.checkIndex(partition, partitions);
        CouponState shard = Objects.requireNonNull(shardFactory.apply(partition), "shardFactory result");
        checkCompatible(partition, shard);
        String[] registered = names; // volatile read; names registered after this are added by addShard
        for (int id = 0; id < registered.length; id++) {
            checkId(partition, shard, registered[id], id);
        }
        return shard;
    }

    /**
     * Makes {@code partition} owned with a new, empty shard from the factory; returns it.
     *
     * @param partition the partition
     * @return the new shard
     * @throws IllegalStateException if the partition is owned already
     */
    public CouponState addShard(int partition) {
        return addShard(partition, newShard(partition));
    }

    /**
     * Makes {@code partition} owned with {@code shard} (typically restored from the partition's checkpoint into
     * {@link #newShard(int)}); returns it. Every registered source name is interned in the shard in id order, and
     * names the shard has beyond them are registered in every other owned shard in the shard's order, before the
     * shard is published.
     *
     * @param partition the partition
     * @param shard the shard
     * @return {@code shard}
     * @throws IllegalArgumentException if the shard is not a {@link LockFreeCouponState},
     *         {@link StripedLockCouponState} or {@link CompactCouponState}, its threshold, code format or maxSources
     *         differ from this state's, or
     *         its source ids disagree with the registered ones (restore into {@link #newShard(int)} instead: the
     *         snapshot reader remaps by name)
     * @throws IllegalStateException if the partition is owned already, or the shard is owned for another partition
     */
    public CouponState addShard(int partition, CouponState shard) {
        Objects.checkIndex(partition, partitions);
        Objects.requireNonNull(shard, "shard");
        checkCompatible(partition, shard);
        synchronized (lock) {
            CouponState[] current = shards;
            if (current[partition] != null) {
                throw new IllegalStateException("partition " + partition + ": its shard is owned already "
                        + "(expected: dropShard(" + partition + ") first)");
            }
            for (int p = 0; p < current.length; p++) {
                if (current[p] == shard) {
                    throw new IllegalStateException("partition " + partition + ": the shard is owned already as "
                            + "partition " + p + " (expected: one shard per partition)");
                }
            }
            List<String> shardNames = sourceNames(partition, shard);
            String[] registered = names;
            for (int id = 0; id < Math.min(registered.length, shardNames.size()); id++) {
                if (!registered[id].equals(shardNames.get(id))) {
                    throw new IllegalArgumentException("partition " + partition + ": the shard's source id " + id
                            + " is \"" + shardNames.get(id) + "\" but this state's is \"" + registered[id]
                            + "\" (expected: the same ids; restore into newShard(" + partition
                            + "), the snapshot reader remaps by name)");
                }
            }
            for (int id = shardNames.size(); id < registered.length; id++) {
                checkId(partition, shard, registered[id], id);
            }
            for (int id = registered.length; id < shardNames.size(); id++) {
                register(shardNames.get(id), current); // the shard has it already at this id
            }
            CouponState[] next = current.clone();
            next[partition] = shard;
            shards = next; // volatile write: publishes the shard with every registered source
            return shard;
        }
    }

    /**
     * Makes {@code partition} not owned and returns its shard, for a last checkpoint. Reads that started before may
     * still finish on it; later ones throw {@link NotOwnedException}. Its writer may go on writing the returned shard
     * (to its final checkpoint, as the runner does on revocation); this state no longer reads it.
     *
     * @param partition the partition
     * @return the shard that was owned
     * @throws IllegalStateException if the partition is not owned
     */
    public CouponState dropShard(int partition) {
        Objects.checkIndex(partition, partitions);
        synchronized (lock) {
            CouponState[] current = shards;
            CouponState shard = current[partition];
            if (shard == null) {
                throw new IllegalStateException("partition " + partition + ": not owned (expected: one of "
                        + ownedPartitions() + ")");
            }
            CouponState[] next = current.clone();
            next[partition] = null;
            shards = next; // volatile write: later reads of the partition throw NotOwnedException
            return shard;
        }
    }

    private void checkCompatible(int partition, CouponState shard) {
        CouponStateConfig shardConfig = configOf(partition, shard);
        if (shardConfig.threshold() != config.threshold()) {
            throw new IllegalArgumentException("partition " + partition + ": the shard's threshold "
                    + shardConfig.threshold() + " differs from this state's " + config.threshold());
        }
        if (!shardConfig.codeFormat().equals(format)) {
            throw new IllegalArgumentException("partition " + partition + ": the shard's code format "
                    + shardConfig.codeFormat() + " differs from this state's " + format);
        }
        if (shardConfig.maxSources() != config.maxSources()) {
            throw new IllegalArgumentException("partition " + partition + ": the shard's maxSources "
                    + shardConfig.maxSources() + " differs from this state's " + config.maxSources());
        }
    }

    /** The shard's configuration; a shard must also tell its source names, which only the library's states do. */
    private static CouponStateConfig configOf(int partition, CouponState shard) {
        sourceNames(partition, shard);
        return shard.config();
    }

    private static List<String> sourceNames(int partition, CouponState shard) {
        try {
            return CouponSnapshots.sourceNames(shard);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("partition " + partition + ": a shard of type "
                    + shard.getClass().getName()
                    + " (expected: LockFreeCouponState, StripedLockCouponState or CompactCouponState)");
        }
    }

    private static void checkId(int partition, CouponState shard, String name, int id) {
        int got = shard.sourceId(name);
        if (got != id) {
            throw new IllegalArgumentException("partition " + partition + ": the shard gives source \"" + name
                    + "\" id " + got + " but this state's id is " + id + " (expected: the same ids; restore into "
                    + "newShard(" + partition + "), the snapshot reader remaps by name)");
        }
    }

    /** Registers a new name everywhere, under lock: the registry's rules first, then every shard of {@code owned}. */
    private int register(String source, CouponState[] owned) {
        String[] registered = names;
        int id = registered.length;
        int got = registry.sourceId(source); // throws (changing nothing) for a name over a limit
        if (got != id) {
            throw new IllegalStateException("source \"" + source + "\": registry id " + got + " where " + id
                    + " was expected");
        }
        for (int p = 0; p < owned.length; p++) {
            if (owned[p] != null) {
                checkId(p, owned[p], source, id);
            }
        }
        String[] next = Arrays.copyOf(registered, id + 1);
        next[id] = source;
        names = next; // volatile write: shards added from now on get this name too
        ids.put(source, id); // the fast path sees it only once every owned shard has it
        return id;
    }

    // ------------------------------------------------------------------------------------------------ CouponState

    /**
     * {@inheritDoc}
     *
     * @throws NotOwnedException if the code is well-formed and its shard is not owned here
     */
    @Override
    public int addObservation(CharSequence code, String source) {
        Objects.requireNonNull(code, "code");
        Objects.requireNonNull(source, "source");
        int partition = partitionOf(code);
        CouponState shard = shards[partition]; // volatile read of the array
        if (shard == null) {
            if (!format.isWellFormed(code)) {
                formatProbe.addObservation(code, source); // throws the core's InvalidCouponCodeException
            }
            throw new NotOwnedException(code, partition);
        }
        return shard.addObservation(code, source);
    }

    /**
     * {@inheritDoc}
     *
     * @throws NotOwnedException if the code is well-formed and its shard is not owned here
     */
    @Override
    public int addObservation(byte[] code, int offset, int length, int sourceId) {
        int partition = partitionOf(code, offset, length);
        CouponState shard = shards[partition]; // volatile read of the array
        if (shard == null) {
            if (!format.isWellFormed(code, offset, length)) {
                // the core's exception and message; the probe knows no source, so the name is a placeholder
                formatProbe.addObservation(new String(code, offset, length, StandardCharsets.ISO_8859_1), "?");
            }
            throw new NotOwnedException(new String(code, offset, length, StandardCharsets.ISO_8859_1), partition);
        }
        return shard.addObservation(code, offset, length, sourceId);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Here the entries are applied one by one through {@link #addObservation(byte[], int, int, int)}, each in its
     * code's shard (an {@link ObservationBatch} shows its entries to the core only): allocation-free, each entry
     * linearizable, but without the core's overlap of cache misses. Source ids are checked entry by entry, and an
     * entry of an unowned code throws {@link NotOwnedException} with the entries before it applied and the batch's
     * results unreadable: apply only owned partitions' records. For ingest at the core's batch speed, fill one
     * batch per partition and apply it to {@link #shard(int)} (the runner knows each record's partition).
     */
    @Override
    public int addObservations(ObservationBatch batch) {
        return CouponState.super.addObservations(batch);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Registers a new name in every owned shard in the same order (and in every shard added later), under the
     * lock of {@link #addShard}; a known name is answered without a lock.
     */
    @Override
    public int sourceId(String source) {
        Objects.requireNonNull(source, "source");
        Integer id = ids.get(source);
        if (id != null) {
            return id;
        }
        synchronized (lock) {
            id = ids.get(source);
            return id != null ? id : register(source, shards);
        }
    }

    /**
     * The registered source names, in id order.
     *
     * @return the registered source names, in id order
     */
    public List<String> sourceNames() {
        return List.of(names); // volatile read
    }

    /**
     * {@inheritDoc}
     *
     * @throws NotOwnedException if the code is well-formed and its shard is not owned here
     */
    @Override
    public Set<String> getObservations(CharSequence code) {
        CouponState shard = ownedShardOrNull(code);
        return shard == null ? Collections.emptySet() : shard.getObservations(code);
    }

    /**
     * {@inheritDoc}
     *
     * @throws NotOwnedException if the code is well-formed and its shard is not owned here
     */
    @Override
    public int observationCount(CharSequence code) {
        CouponState shard = ownedShardOrNull(code);
        return shard == null ? 0 : shard.observationCount(code);
    }

    /**
     * {@inheritDoc}
     *
     * @throws NotOwnedException if the code is well-formed and its shard is not owned here
     */
    @Override
    public boolean isValid(CharSequence code) {
        CouponState shard = ownedShardOrNull(code);
        return shard != null && shard.isValid(code);
    }

    /** The code's owned shard; null for null or a malformed code (unknown everywhere); throws if not owned. */
    private CouponState ownedShardOrNull(CharSequence code) {
        if (code == null) {
            return null;
        }
        int partition = partitionOf(code);
        CouponState shard = shards[partition]; // volatile read of the array
        if (shard != null) {
            return shard;
        }
        if (!format.isWellFormed(code)) {
            return null;
        }
        throw new NotOwnedException(code, partition);
    }

    @Override
    public boolean isWellFormed(CharSequence code) {
        return format.isWellFormed(code);
    }

    /** {@inheritDoc} Over the shards owned when the call starts. */
    @Override
    public List<String> getCouponCodesByObservationCount(int minSources) {
        List<String> out = new ArrayList<>();
        forEachCouponCode(minSources, out::add);
        return out;
    }

    /** {@inheritDoc} Over the shards owned when the call starts, shard by shard in partition order. */
    @Override
    public void forEachCouponCode(int minSources, Consumer<? super String> action) {
        if (minSources < 1) {
            throw new IllegalArgumentException("minSources: " + minSources + " (expected: >= 1)");
        }
        Objects.requireNonNull(action, "action");
        for (CouponState shard : shards) { // volatile read: the shards owned now
            if (shard != null) {
                shard.forEachCouponCode(minSources, action);
            }
        }
    }

    /** {@inheritDoc} The sum over the shards owned when the call starts. */
    @Override
    public long size() {
        long size = 0;
        for (CouponState shard : shards) { // volatile read: the shards owned now
            if (shard != null) {
                size += shard.size();
            }
        }
        return size;
    }

    /** {@inheritDoc} The sum over the shards owned when the call starts; O(partitions). */
    @Override
    public long validCount() {
        long valid = 0;
        for (CouponState shard : shards) { // volatile read: the shards owned now
            if (shard != null) {
                valid += shard.validCount();
            }
        }
        return valid;
    }

    @Override
    public int threshold() {
        return config.threshold();
    }

    /** {@inheritDoc} Every shard matches its threshold, code format and maxSources. */
    @Override
    public CouponStateConfig config() {
        return config;
    }

    @Override
    public String toString() {
        return "PartitionedCouponState{partitions=" + partitions + ", owned=" + ownedPartitions() + ", size="
                + size() + ", sources=" + sourceNames() + ", threshold=" + config.threshold() + ", format=" + format
                + "}";
    }
}

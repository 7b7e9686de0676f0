/**
 * Keeps a {@link io.couponstate.core.CouponState} current from Kafka, and publishes code files to Kafka.
 *
 * <p>The API: {@link CouponConsumerRunner} (with {@link SourceResolver}, {@link InvalidRecordHandler},
 * {@link StateListener}, {@link RunnerMetrics}), partitioned mode's {@link PartitionedCouponState}, and
 * {@link CouponFilePublisher}. The internals are grouped by job, none of them API: {@code internal.runner} (the
 * replicated engine, its consumer loop, apply stage, record applier, partition tracker, checkpointer, settings and the
 * life cycle both engines share), {@code internal.partition} (the partitioned engine, the owner directory, the code
 * partitioner), {@code internal.publish} (the publisher's file checks, topics and line splitting), and the checkpoint
 * internals.
 *
 * <h2>The runner</h2>
 *
 * <p>A {@link CouponConsumerRunner} reads every partition of its topics (one topic per source, by default), applies
 * each record's code to the state, and checkpoints the state together with the offsets it covers, so that a restart
 * replays only the tail.
 *
 * <p><b>Threads and progress.</b> Thread-safe. {@link CouponConsumerRunner#start()} returns at once; one poll thread
 * owns the {@code KafkaConsumer} and applies records, and one checkpoint thread writes snapshots, so a long checkpoint
 * never holds up polling. {@link CouponConsumerRunner#awaitCaughtUp} and {@link CouponConsumerRunner#close()} block;
 * {@link CouponConsumerRunner#metrics()}, {@link CouponConsumerRunner#runnerState()} and {@link
 * CouponConsumerRunner#state()} never block. Applying is as non-blocking as the state (lock-free or striped locks). The
 * poll and checkpoint threads are not daemons, so that a final checkpoint is never cut off: close a started runner (for
 * example with try-with-resources), or the JVM keeps running.
 *
 * <p><b>Happens-before.</b> Applying a record to the state happens-before its partition's applied position is
 * published; publishing it happens-before an {@link CouponConsumerRunner#awaitCaughtUp} that returns true because of
 * it, so a caller that saw {@code true} reads every record below the awaited end offsets from {@link
 * CouponConsumerRunner#state()}. The offsets of a checkpoint are captured on the poll thread after every record below
 * them was applied, which happens-before the snapshot is written; the checkpoint is durable (fsynced, renamed,
 * directory fsynced) before its offsets are committed to the group. A failure cause is published before the {@link
 * CouponConsumerRunner.State#FAILED} state.
 *
 * <p><b>Delivery.</b> At-least-once per record, exactly-once in effect: a replayed record is a duplicate observation,
 * which the state ignores (set union). On start each partition is positioned at the offset in the newest usable local
 * checkpoint, or at its beginning; offsets committed to the group (for lag monitoring) are never read.
 *
 * <p><b>Failures.</b> Bad records are counted, logged at a bounded rate and handed to the {@link InvalidRecordHandler};
 * the runner keeps going. Transient Kafka errors (a broker away for a while) are retried around the Kafka calls that
 * throw them; a cluster that gives no metadata for a few API timeouts shows as {@link RunnerMetrics#problem()}. A fatal
 * error stops the runner in {@link CouponConsumerRunner.State#FAILED} with {@link CouponConsumerRunner#failureCause()}
 * set: authorization, unsupported version, a checkpoint below the log-start offset, an offset out of range, a topic
 * missing at start (unless {@link CouponConsumerRunner.Builder#allowMissingTopics}), a topic recreated since the
 * checkpoint (unless {@link CouponConsumerRunner.Builder#rebuildRecreatedTopics}), an incompatible checkpoint, a source
 * past the state's {@code maxSources}, a final checkpoint that could not be written, and an exception of any type from
 * a user callback (the handler, the source resolver, the state's validity listener), which is never retried past. A
 * failed periodic checkpoint is logged at ERROR and shows in {@link RunnerMetrics#durable()}; it is retried at the next
 * interval.
 *
 * <h2>Modes</h2>
 *
 * <p><b>{@link CouponConsumerRunner.Mode#REPLICATED}</b> (the default), described above: every instance reads every
 * partition with {@code assign()}, never joins a group, and holds the whole state; any instance answers any code. Reads
 * are as consistent as the state's (per code linearizable, bulk queries weakly consistent).
 *
 * <p><b>{@link CouponConsumerRunner.Mode#PARTITIONED}</b>: the instances of one {@link
 * CouponConsumerRunner.Builder#groupId group} share the partition numbers. The topics must be co-partitioned (the same
 * partition count, that of the {@link PartitionedCouponState}, and every observation of a code on the same partition
 * number: records keyed with the upper-cased code, default partitioner, as {@link CouponFilePublisher} sends them; a
 * record whose code maps elsewhere is {@link InvalidRecordReason#WRONG_PARTITION}). A coordinator consumer subscribes
 * to the topics with the range assignor (classic protocol: {@code partition.assignment.strategy=RangeAssignor}; with
 * the consumer property {@code group.protocol=consumer}: the server-side {@code group.remote.assignor=range}), which
 * gives partition <i>p</i> of every topic to one member; it keeps its partitions paused, so its {@code poll()} only
 * keeps the membership and runs the rebalances. For each partition number <i>p</i> assigned here a shard runner (a
 * replicated-style runner over partition <i>p</i> of every topic, with no group and its checkpoints in {@code
 * <checkpointDirectory>/partition-<p>/}) restores the shard from its newest local checkpoint, or rebuilds it from the
 * start of partition <i>p</i> of every topic (the topics are the durable log: keep them with {@code retention.ms=-1}),
 * on its own threads; the shard is added to the {@link PartitionedCouponState}, and so becomes queryable here ({@link
 * ShardStatus#queryable()}), once it has caught up to the end offsets read when it started. Until then, and for codes
 * of partitions owned elsewhere, reads throw {@link NotOwnedException}.
 * <ul>
 * <li><b>Consistency.</b> A code lives in one shard: per code, reads and writes on its owner are linearizable as in
 * replicated mode. Bulk queries ({@code size}, {@code validCount}, listings) cover the shards queryable here when they
 * start and are weakly consistent; the whole answer is the sum over the instances, which is not atomic across them.
 * During a move a code may be unanswerable for a while (no instance holds its shard queryable); it is never answered
 * from a shard missing records below its caught-up point.
 * <li><b>Rebalances.</b> At every assignment the runner checks co-partitioning (every topic exists with the state's
 * partition count, and the assignment holds partition <i>p</i> of every topic or of none) and otherwise FAILS with a
 * message naming the topics, their counts and the partitions out of line, before any shard of that assignment is added.
 * The classic range assignor is eager (a rebalance revokes everything, then assigns anew): the runner keeps its shards
 * through the revocation and, once the new assignment is known, closes (drop, then final checkpoint) only those of
 * partition numbers that did not come back; a kept shard stays exact, as each shard is computed from the log alone and
 * ownership only decides who serves. With {@code group.protocol=consumer} (incremental) a revoked shard is closed and
 * dropped inside {@code onPartitionsRevoked}. On {@code onPartitionsLost} the shard is dropped and its runner stopped,
 * and nothing is committed for it. Otherwise the coordinator commits each shard's newest durable checkpoint offsets to
 * the group (asynchronously, from its poll loop, for partitions assigned to it then), for lag monitoring only:
 * positions come from the local checkpoints, never from the group. A restore runs on the shard runner's threads, and
 * a rebalance that takes away a shard still restoring cancels the restore (the read stops at its next chunk; no final
 * checkpoint is written from the half-restored shard) and waits at most a few seconds for it, so a restore never holds
 * {@code poll()} past {@code max.poll.interval.ms}; closing a ready shard waits for its final checkpoint (the shards
 * closed by one rebalance close in parallel). A failure of
 * any shard runner fails the whole runner. A dropped shard answers {@link NotOwnedException} from the moment it is
 * dropped, before its final checkpoint, which is written from the shard its runner still holds.
 * <li><b>Failover.</b> A member killed without leaving (SIGKILL, a lost machine) is noticed only when its group session
 * expires; then its partitions are reassigned and rebuilt or restored by the survivors. So with the classic protocol
 * (the default) the coordinator consumer uses {@code session.timeout.ms=6000} and {@code heartbeat.interval.ms=2000}
 * unless given as consumer properties (the client's defaults are 45 s and 3 s): 6 s is the smallest session the
 * broker accepts by default ({@code group.min.session.timeout.ms=6000}); a smaller one needs that broker setting
 * lowered. With {@code group.protocol=consumer} (KIP-848) the session timeout and heartbeat interval are the broker's
 * ({@code group.consumer.session.timeout.ms}, default 45 s, not below {@code group.consumer.min.session.timeout.ms},
 * default 45 s; {@code group.consumer.heartbeat.interval.ms}, default 5 s): set those on the broker (or per group,
 * {@code consumer.session.timeout.ms} of the group's config) for a quick failover.
 * <li><b>Owner discovery.</b> Each instance may {@link CouponConsumerRunner.Builder#applicationEndpoint advertise} an
 * endpoint. At every change of its owned partition numbers it writes, synchronously, one record to a compacted
 * membership topic ({@link CouponConsumerRunner.Builder#membershipTopic}, default {@code <groupId>-couponstate-owners},
 * created if missing with one partition): key = its instance id (a random UUID per runner), value = its endpoint and
 * partition numbers; a tombstone on close. Every instance tails the topic; the owner of <i>p</i> is the instance whose
 * latest record lists <i>p</i> and was written last among those that do. {@link CouponConsumerRunner#ownerOf} answers
 * from that (and from this instance's own assignment at once). A topic rather than the assignment's user data because
 * the consumer protocol assigns on the broker, where no client assignor carries user data; it works the same under both
 * protocols. An answer can be stale for a moment around a rebalance, and a killed instance's claims last until the new
 * owners claim its partitions.
 * <li><b>Checkpoint directory.</b> A partitioned runner marks its directory ({@code partitioned.properties}: mode and
 * partition count). A directory holding a replicated checkpoint, shards of another partition count, or, for a
 * replicated runner, a partitioned marker, fails {@code start()} with an {@link IncompatibleCheckpointException} naming
 * the directory and both values.
 * <li><b>Metrics.</b> {@link CouponConsumerRunner#metrics()} sums the shard runners here now and, for the counters
 * (records, codes, invalid records, checkpoints), those closed since start; distinct codes and valid codes are those of
 * the shards here now; lag is the sum over the shards here (-1 while one is unknown or none is assigned). {@link
 * CouponConsumerRunner#shards()} gives each assigned partition's status.
 * </ul>
 */
package io.couponstate.kafka;

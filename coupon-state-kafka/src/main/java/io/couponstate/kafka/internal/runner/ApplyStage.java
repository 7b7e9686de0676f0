package io.couponstate.kafka.internal.runner;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The apply stage of the pipelined runner: apply threads that take whole polled batches from the poll thread and
 * apply them with a {@link RecordApplier.Lane} each, and the bookkeeping that advances each partition's applied
 * position in the {@link PartitionTracker} only over records that are applied.
 *
 * <p><b>Hand-off.</b> {@link #handOff} takes a polled batch and the consumer's positions after that poll. At most
 * {@link #maxInFlight()} batches are in flight (handed off, not yet fully applied); the poll thread asks
 * {@link #isFull()} before polling and pauses its partitions while it is, so nothing is buffered beyond that bound
 * (at most {@code maxInFlight * max.poll.records} records) while {@code poll()} keeps being called.
 *
 * <p><b>Order and positions.</b> Each partition is applied by one thread (assigned round-robin when first seen, for
 * good), and each thread applies its share of the batches in hand-off order, so a partition's records are applied
 * in offset order. Batches complete in any order across threads; the positions of a batch are published to the
 * tracker only once it and every batch handed off before it are complete, so a published position never passes a
 * record that is not applied (the positions after poll k cover exactly the records of polls 1..k).
 *
 * <p><b>Threads.</b> {@link #handOff}, {@link #isFull()}, {@link #awaitRoom}, {@link #throwIfFailed()} and
 * {@link #stop} are for the poll thread; {@link #inFlightRecords()} for any thread. The in-flight queue is guarded
 * by this object's monitor; the tracker's positions are advanced under it (by whichever thread completes the head
 * batch), so the advances are serialized and in order. Progress guarantee: blocking (the monitor), held for the
 * length of a position update, never while a record is applied or a user callback runs.
 *
 * <p><b>Failures.</b> The first throwable an apply thread meets (a user callback's, a source limit) is kept, the
 * thread stops, and {@link #throwIfFailed()} rethrows it on the poll thread, so the runner fails with that cause. The
 * failed batch and every later one are never completed: positions stay below the failed record.
 */
public final class ApplyStage {

    private static final Logger LOG = LoggerFactory.getLogger("io.couponstate.kafka.CouponConsumerRunner");
    /** Batches in flight by default: one being applied per thread, one more queued behind it. */
    public static final int IN_FLIGHT_PER_THREAD = 2;
    /** How long an idle apply thread waits on its queue before it looks at the stop flag again. */
    private static final long QUEUE_POLL_MILLIS = 50;

    private final PartitionTracker tracker;
    private final int maxInFlight;
    private final Worker[] workers;
    private final Map<TopicPartition, Worker> affinity = new HashMap<>(); // poll thread only
    private int nextWorker; // poll thread only

    // guarded by this
    private final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
    private volatile long inFlightRecords; // written under this, read by any thread
    private volatile Throwable failure; // the first apply failure; written under this
    private volatile boolean stopping;

    /** A stage of {@code threads} apply threads named after the runner; started at once. */
    public ApplyStage(RecordApplier applier, PartitionTracker tracker, int threads, String name) {
        this(applier, tracker, threads, threads * IN_FLIGHT_PER_THREAD, name);
    }

    ApplyStage(RecordApplier applier, PartitionTracker tracker, int threads, int maxInFlight, String name) {
        this.tracker = tracker;
        this.maxInFlight = maxInFlight;
        this.workers = new Worker[threads];
        for (int i = 0; i < threads; i++) {
            workers[i] = new Worker(applier.newLane(), maxInFlight, "coupon-runner-apply-" + name + "-" + i);
        }
        for (Worker w : workers) {
            w.thread.start();
        }
    }

    /** The most batches in flight. */
    public int maxInFlight() {
        return maxInFlight;
    }

    /** Whether {@link #maxInFlight()} batches are in flight: the poll thread must not fetch more. */
    public synchronized boolean isFull() {
        return inFlight.size() >= maxInFlight;
    }

    /** Records handed off and not yet applied; any thread. */
    public long inFlightRecords() {
        return inFlightRecords; // volatile
    }

    /** Whether nothing is in flight. */
    public synchronized boolean isIdle() {
        return inFlight.isEmpty();
    }

    /**
     * Hands a polled batch to the apply threads (poll thread). {@code partitions[i]} is at {@code positions[i]} after
     * the poll ({@code -1}: unknown, not advanced); they become the applied positions once the batch and every one
     * before it are applied. An empty batch only carries positions. Never blocks; the bound is the caller's: it
     * checks {@link #isFull()} before polling and pauses its partitions while the stage is full.
     *
     * @throws IllegalStateException if the stage is stopped
     */
    public void handOff(ConsumerRecords<byte[], byte[]> records, TopicPartition[] partitions, long[] positions) {
        Map<Worker, List<TopicPartition>> shares = null;
        Worker only = null;
        for (TopicPartition tp : records.partitions()) {
            Worker w = affinity.get(tp);
            if (w == null) {
                w = workers[nextWorker];
                nextWorker = (nextWorker + 1) % workers.length;
                affinity.put(tp, w);
            }
            if (workers.length == 1) {
                only = w;
                continue;
            }
            if (shares == null) {
                shares = new HashMap<>();
            }
            shares.computeIfAbsent(w, k -> new ArrayList<>()).add(tp);
        }
        synchronized (this) {
            if (stopping) {
                throw new IllegalStateException("apply stage stopped");
            }
            if (records.isEmpty()) {
                // an empty poll adds no record: its positions are due exactly when those of the last batch are,
                // so it takes that batch's place instead of a slot of the bound (idle polls never fill the stage)
                InFlight last = inFlight.peekLast();
                if (last == null) {
                    advance(partitions, positions);
                } else {
                    last.partitions = partitions;
                    last.positions = positions;
                }
                return;
            }
            InFlight batch = new InFlight(partitions, positions, records.count());
            inFlight.addLast(batch);
            inFlightRecords = inFlightRecords + batch.records; // volatile, under this
            if (only != null) {
                batch.pending = 1;
                only.queue.add(new Work(batch, records, records.partitions()));
            } else {
                batch.pending = shares.size();
                for (Map.Entry<Worker, List<TopicPartition>> e : shares.entrySet()) {
                    e.getKey().queue.add(new Work(batch, records, e.getValue()));
                }
            }
        }
    }

    /**
     * Waits until a batch completes or fails, the stage has room, or {@code millis} pass (poll thread, while the
     * stage is full).
     */
    public synchronized void awaitRoom(long millis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (inFlight.size() >= maxInFlight && failure == null && !stopping) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    /** Rethrows an apply thread's failure on the poll thread: unchecked as is, anything else wrapped. */
    public void throwIfFailed() {
        Throwable t = failure; // volatile
        if (t == null) {
            return;
        }
        if (t instanceof RuntimeException) {
            throw (RuntimeException) t;
        }
        if (t instanceof Error) {
            throw (Error) t;
        }
        throw new IllegalStateException("applying records failed: " + t, t);
    }

    /**
     * Stops the apply threads: each finishes the batch it is applying and abandons what is queued (never marked
     * applied, so positions stay exact). Waits up to {@code millis} for them. Idempotent.
     */
    public void stop(long millis) throws InterruptedException {
        synchronized (this) {
            stopping = true; // volatile
            notifyAll();
        }
        // no interrupt: a user callback (a dead-letter producer) must not see one; workers poll their queues briefly
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (Worker w : workers) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            w.thread.join(Math.max(1, left));
            if (w.thread.isAlive()) {
                LOG.warn("{} still applying after {} ms; closing without it (its records are not counted as applied)",
                        w.thread.getName(), millis);
            }
        }
    }

    private synchronized void completed(InFlight batch) {
        if (--batch.pending == 0) {
            publishCompleted();
        }
    }

    /** Publishes the positions of the completed batches at the head, in order (under this). */
    private void publishCompleted() {
        boolean any = false;
        while (!inFlight.isEmpty() && inFlight.peekFirst().pending == 0) {
            InFlight done = inFlight.pollFirst();
            advance(done.partitions, done.positions);
            inFlightRecords = inFlightRecords - done.records; // volatile, under this
            any = true;
        }
        if (any) {
            notifyAll();
        }
    }

    private void advance(TopicPartition[] partitions, long[] positions) {
        for (int i = 0; i < partitions.length; i++) {
            if (positions[i] >= 0) {
                tracker.advance(partitions[i], positions[i]);
            }
        }
    }

    private synchronized void failed(Throwable t) {
        if (failure == null) {
            failure = t; // volatile
        }
        notifyAll();
    }

    /**
     * A polled batch in flight; {@code pending} counts the shares not yet applied. Every field but {@code records}
     * is guarded by the stage (an empty poll behind it moves its positions on).
     */
    private static final class InFlight {
        TopicPartition[] partitions;
        long[] positions;
        final int records;
        int pending;

        InFlight(TopicPartition[] partitions, long[] positions, int records) {
            this.partitions = partitions;
            this.positions = positions;
            this.records = records;
        }
    }

    /** One thread's share of a batch: its partitions' records. */
    private static final class Work {
        final InFlight batch;
        final ConsumerRecords<byte[], byte[]> records;
        final Iterable<TopicPartition> partitions;

        Work(InFlight batch, ConsumerRecords<byte[], byte[]> records, Iterable<TopicPartition> partitions) {
            this.batch = batch;
            this.records = records;
            this.partitions = partitions;
        }
    }

    private final class Worker implements Runnable {
        final RecordApplier.Lane lane;
        // never full: at most maxInFlight (+1) batches are in flight, each with at most one share per worker
        final ArrayBlockingQueue<Work> queue;
        final Thread thread;

        Worker(RecordApplier.Lane lane, int capacity, String name) {
            this.lane = lane;
            this.queue = new ArrayBlockingQueue<>(capacity + 2);
            this.thread = new Thread(this, name);
            this.thread.setDaemon(true); // the poll thread owns the runner's lifetime; it stops these
        }

        @Override
        public void run() {
            try {
                while (!stopping) { // volatile
                    Work work;
                    try {
                        work = queue.poll(QUEUE_POLL_MILLIS, TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        return; // nobody interrupts these threads but a JVM shutting down
                    }
                    if (work == null) {
                        continue;
                    }
                    if (stopping) {
                        return; // abandoned: never marked applied
                    }
                    lane.apply(work.records, work.partitions);
                    completed(work.batch);
                }
            } catch (Throwable t) {
                failed(t);
            }
        }
    }
}

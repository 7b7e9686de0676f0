package io.couponstate.kafka.streams;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.CouponCheckpoints;
import io.couponstate.kafka.internal.partition.CodePartitioner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.errors.ProcessorStateException;
import org.apache.kafka.streams.processor.BatchingStateRestoreCallback;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.processor.StateStoreContext;
import org.apache.kafka.streams.processor.internals.InternalProcessorContext;
import org.apache.kafka.streams.processor.internals.Task;
import org.apache.kafka.streams.query.FailureReason;
import org.apache.kafka.streams.query.Position;
import org.apache.kafka.streams.query.PositionBound;
import org.apache.kafka.streams.query.Query;
import org.apache.kafka.streams.query.QueryConfig;
import org.apache.kafka.streams.query.QueryResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Kafka Streams state store holding one task's {@link CouponState}: the codes of its partition of every input topic
 * and their sources. Built by {@link CouponStores#storeBuilder()}, fed by {@link CouponStores#processor()}, queried
 * through IQv2 with {@link CouponQueries}.
 *
 * <p><b>Threads.</b> The task's stream thread (or Kafka Streams' state updater thread while restoring) updates it;
 * any thread may query it at the same time (the state is thread-safe: single-code reads are linearizable, listings
 * weakly consistent). One instance per task, as Kafka Streams builds it.
 */
public final class CouponStore implements StateStore {

    /* design notes
     *
     * Changelog
     *   A compacted topic that Kafka Streams creates ("<application.id>-<store>-changelog"), one partition per task.
     *   Key: the code with a-z upper-cased (what CodePartitioner keys with, so the spellings of a code compact
     *   together); value: every source of the code, UTF-8 names joined by '\n'. A record is written only when an
     *   observation added a source, and it carries the whole source set, so compaction keeping the last record per
     *   code keeps the union. Writing goes through Kafka Streams' own changelog writer (InternalProcessorContext
     *   .logChange), which puts it in the task's transaction under exactly_once_v2: Kafka Streams has no public way
     *   for a custom store to log, so this module pins the Kafka Streams version it is built against.
     *   Why not the source topics as the changelog: Kafka Streams binds a store to one changelog topic, and this
     *   state is the union of several topics; and standbys exist only for stores with a changelog of their own.
     *
     * Offsets (KIP-1035)
     *   The store manages its changelog offset: commit(offsets) writes the state's image (a CouponCheckpoints base
     *   or delta, in the task directory) with the offsets, at most once per image interval and at close, and
     *   committedOffset returns the image's offset, so a restart loads the image at disk speed and restores only the
     *   changelog's tail. The image lives beside the task directory, not in it: under exactly_once_v2 Kafka Streams
     *   deletes a task's directory after an unclean close (unless its transactional state stores are on), because a
     *   store there may hold uncommitted writes; this image holds, per its offsets, committed changelog records only
     *   (plus, at worst, observations applied after them: harmless in a union). KafkaStreams#cleanUp deletes it with
     *   the application's directory. An offset is stored plus one, because Kafka Streams hands -1 for a changelog it has not
     *   written yet and checkpoints hold offsets >= 0. Under exactly_once_v2 a store that returns an offset is not
     *   wiped after a crash: the image is kept, and the tail read after it is committed data (read_committed).
     *   An image may hold observations past its offset (applied after the commit that wrote it): reading them again
     *   is harmless, the state being a union.
     */

    private static final Logger LOG = LoggerFactory.getLogger(CouponStore.class);
    /** Beside the task directories, in the application's: Kafka Streams lists only names like {@code 0_1}. */
    static final String IMAGES_DIRECTORY = "couponstate-images";

    private final String name;
    private final CouponStores.Settings settings;
    private volatile CouponState state; // volatile: set by init on the stream thread, read by query threads
    private volatile boolean open;
    private InternalProcessorContext<?, ?> context;
    private CouponCheckpoints checkpoints;
    private Map<TopicPartition, Long> imageOffsets = Map.of(); // as stored: offset + 1
    private Map<TopicPartition, Long> pendingOffsets; // the last commit's, not yet in an image
    private long processedSinceCommit;
    private long lastImageNanos;
    private final byte[][] sourceNames = new byte[64][]; // source id -> UTF-8 name, for single-source values
    private final Map<String, Integer> restoredSourceIds = new ConcurrentHashMap<>();

    CouponStore(String name, CouponStores.Settings settings) {
        this.name = name;
        this.settings = settings;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void init(StateStoreContext stateStoreContext, StateStore root) {
        if (!(stateStoreContext instanceof InternalProcessorContext)) {
            throw new IllegalStateException("store " + name + ": context " + stateStoreContext.getClass().getName()
                    + " (expected: Kafka Streams' own context; this store writes its changelog through it)");
        }
        this.context = (InternalProcessorContext<?, ?>) stateStoreContext;
        CouponState fresh = settings.newState();
        Path directory = imageDirectory(stateStoreContext.stateDir().toPath(), name,
                stateStoreContext.taskId().toString());
        // Kafka Streams closes only the stores registered with it: a failure up to and including the registration
        // must release the image directory here, or the task could never be opened again in this JVM
        try {
            checkpoints = CouponCheckpoints.open(directory, CouponCheckpoints.Options.defaults()
                    .restoreLog(line -> LOG.info("store {} task {}: {}", name, stateStoreContext.taskId(), line)));
            imageOffsets = checkpoints.restore(fresh);
            state = fresh;
            lastImageNanos = System.nanoTime();
            stateStoreContext.register(root, (BatchingStateRestoreCallback) this::restoreAll);
        } catch (IOException e) {
            closeCheckpoints();
            throw new ProcessorStateException("store " + name + " task " + stateStoreContext.taskId()
                    + ": cannot open or read its image in " + directory, e);
        } catch (RuntimeException e) {
            closeCheckpoints();
            throw e;
        }
        open = true;
    }

    /**
     * Where a task's image lives: {@code <state.dir>/<application.id>/couponstate-images/<store>/<task>}, outside the
     * task directory, which Kafka Streams deletes after an unclean close under exactly-once.
     */
    static Path imageDirectory(Path taskDirectory, String storeName, String taskId) {
        return taskDirectory.getParent().resolve(IMAGES_DIRECTORY).resolve(storeName).resolve(taskId);
    }

    private void restoreAll(Collection<KeyValue<byte[], byte[]>> records) {
        CouponState s = state;
        for (KeyValue<byte[], byte[]> kv : records) {
            byte[] code = kv.key;
            byte[] value = kv.value;
            if (code == null || value == null) {
                continue; // nothing this store writes: a union never deletes
            }
            int start = 0;
            for (int i = 0; i <= value.length; i++) {
                if (i == value.length || value[i] == '\n') {
                    if (i > start) {
                        String source = new String(value, start, i - start, StandardCharsets.UTF_8);
                        int id = restoredSourceIds.computeIfAbsent(source, s::sourceId);
                        s.addObservation(code, 0, code.length, id);
                    }
                    start = i + 1;
                }
            }
        }
    }

    /**
     * Applies one observation and logs the code's sources when it added one: the processor's hot path, on the
     * stream thread. Returns what {@link CouponState#addObservation(byte[], int, int, int)} returns.
     */
    int apply(byte[] code, int sourceId, long timestamp) {
        CouponState s = state;
        int result = s.addObservation(code, 0, code.length, sourceId);
        processedSinceCommit++;
        if (result > 0) {
            byte[] value = result == 1 ? sourceNames[sourceId] : null;
            if (value == null) {
                value = encodeSources(s, code);
                if (result == 1) {
                    sourceNames[sourceId] = value;
                }
            }
            context.logChange(name, Bytes.wrap(CodePartitioner.key(code)), value, timestamp, new RecordHeaders(),
                    Position.emptyPosition());
        }
        return result;
    }

    private static byte[] encodeSources(CouponState s, byte[] code) {
        TreeSet<String> sorted = new TreeSet<>(s.getObservations(new String(code, StandardCharsets.US_ASCII)));
        return String.join("\n", sorted).getBytes(StandardCharsets.UTF_8);
    }

    /** The task's state; for the processor's source resolver. */
    CouponState state() {
        return state;
    }

    @Override
    public void commit(Map<TopicPartition, Long> changelogOffsets) {
        if (!open || changelogOffsets.isEmpty()) {
            return;
        }
        Map<TopicPartition, Long> stored = new HashMap<>();
        changelogOffsets.forEach((tp, offset) -> stored.put(tp, offset == null || offset < 0 ? 0L : offset + 1));
        pendingOffsets = stored;
        processedSinceCommit = 0;
        settings.flushHandler();
        if (System.nanoTime() - lastImageNanos >= settings.imageIntervalNanos()) {
            writeImage();
        }
    }

    private void writeImage() {
        if (pendingOffsets == null || pendingOffsets.equals(imageOffsets)) {
            return;
        }
        try {
            checkpoints.write(state, pendingOffsets);
        } catch (IOException e) {
            throw new UncheckedIOException("store " + name + ": writing its image in " + checkpoints.directory(), e);
        }
        imageOffsets = pendingOffsets;
        pendingOffsets = null;
        lastImageNanos = System.nanoTime();
    }

    @Override
    public Long committedOffset(TopicPartition partition) {
        Long stored = imageOffsets.get(partition);
        return stored == null ? null : stored - 1;
    }

    @SuppressWarnings("deprecation") // managesOffsets is deprecated because every store will have to; this one does
    @Override
    public boolean managesOffsets() {
        return true;
    }

    @Override
    public boolean persistent() {
        return true;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    /**
     * Writes the last commit's image if nothing was processed since (so the image never holds uncommitted
     * observations past its offsets), then releases the image directory's lock, so that the task can be reopened
     * here or elsewhere.
     */
    @Override
    public void close() {
        if (!open) {
            return;
        }
        open = false;
        try {
            if (processedSinceCommit == 0) {
                writeImage();
            }
        } catch (RuntimeException e) {
            LOG.warn("store {}: image not written at close; the next start restores more of the changelog", name, e);
        } finally {
            closeCheckpoints();
        }
    }

    private void closeCheckpoints() {
        if (checkpoints != null) {
            checkpoints.close();
            checkpoints = null;
        }
    }

    @Override
    @SuppressWarnings("unchecked")
    public <R> QueryResult<R> query(Query<R> query, PositionBound positionBound, QueryConfig config) {
        Objects.requireNonNull(query, "query");
        CouponState s = state;
        if (s == null || !open) {
            return QueryResult.forFailure(FailureReason.NOT_PRESENT, "store " + name + " is not open");
        }
        boolean standby = context != null && context.taskType() == Task.TaskType.STANDBY; // racy but benign:
        // a task changing type while a query runs answers as either, both true at some instant
        QueryResult<R> result;
        if (query instanceof CouponQueries.CodeQuery q) {
            result = standby && !q.isStaleAllowed() ? notActive(q) : (QueryResult<R>) QueryResult.forResult(
                    codeAnswer(s, q.code(), standby));
        } else if (query instanceof CouponQueries.ValidCodesQuery q) {
            result = standby && !q.isStaleAllowed() ? notActive(q) : (QueryResult<R>) QueryResult.forResult(
                    validCodes(s, q, standby));
        } else {
            result = QueryResult.forUnknownQueryType(query, this);
        }
        result.setPosition(Position.emptyPosition());
        return result;
    }

    private <R> QueryResult<R> notActive(Query<?> q) {
        return QueryResult.forFailure(FailureReason.NOT_ACTIVE, "store " + name + " task "
                + context.taskId() + " is a standby: it may be stale (expected: the active task, or " + q
                + ".allowStale() for a standby's answer)");
    }

    private CouponQueries.CodeAnswer codeAnswer(CouponState s, String code, boolean standby) {
        String canonical = settings.config().codeFormat().caseInsensitive() ? code.toUpperCase(java.util.Locale.ROOT)
                : code;
        List<String> sources = new ArrayList<>(new TreeSet<>(s.getObservations(canonical)));
        return new CouponQueries.CodeAnswer(canonical, sources.size() >= s.threshold(), sources, standby);
    }

    private static CouponQueries.ValidCodesPage validCodes(CouponState s, CouponQueries.ValidCodesQuery q,
            boolean standby) {
        TreeSet<String> valid = new TreeSet<>();
        String after = q.after();
        s.forEachCouponCode(s.threshold(), code -> {
            if (after == null || code.compareTo(after) > 0) {
                valid.add(code);
            }
        });
        List<String> page = new ArrayList<>(Math.min(q.limit(), valid.size()));
        for (String code : valid) {
            if (page.size() == q.limit()) {
                break;
            }
            page.add(code);
        }
        return new CouponQueries.ValidCodesPage(page, valid.size() > page.size(), standby);
    }

    @Override
    public Position getPosition() {
        return Position.emptyPosition();
    }

    @Override
    public String toString() {
        return "CouponStore{" + name + (context == null ? "" : ", task " + context.taskId()) + "}";
    }
}

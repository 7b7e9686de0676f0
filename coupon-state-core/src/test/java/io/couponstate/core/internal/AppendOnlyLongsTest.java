package io.couponstate.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class AppendOnlyLongsTest {

    @Test
    void twoWriters_acrossManySegments_whileAReaderWalks_everyValueOnce() throws Exception {
        AppendOnlyLongs list = new AppendOnlyLongs();
        int perWriter = 200_000; // segments of 1024, 2048, ...: about 8 of them
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean writing = new AtomicBoolean(true);
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < 2; w++) {
            long base = (w + 1L) << 40;
            threads.add(new Thread(() -> {
                for (int i = 1; i <= perWriter; i++) {
                    list.add(base + i);
                }
            }));
        }
        Thread reader = new Thread(() -> {
            try {
                while (writing.get()) {
                    Set<Long> seen = new HashSet<>();
                    list.forEach(v -> {
                        if (!seen.add(v)) {
                            throw new AssertionError("value " + v + " seen twice");
                        }
                    });
                    if (seen.size() > list.count()) {
                        throw new AssertionError(seen.size() + " values seen, count " + list.count());
                    }
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        });
        reader.start();
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        writing.set(false);
        reader.join();
        assertThat(failure.get()).isNull();
        assertThat(list.count()).isEqualTo(2L * perWriter);
        Set<Long> all = new HashSet<>();
        list.forEach(all::add);
        assertThat(all).hasSize(2 * perWriter);
        for (int w = 0; w < 2; w++) {
            assertThat(all).contains(((w + 1L) << 40) + 1, ((w + 1L) << 40) + perWriter);
        }
    }

    @Test
    void zero_isRefused() {
        assertThatThrownBy(() -> new AppendOnlyLongs().add(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("value: 0");
    }

    @Test
    void addAll_acrossSegmentBoundaries_listsEveryValueInOrder() {
        AppendOnlyLongs list = new AppendOnlyLongs();
        list.add(1);
        long[] values = new long[5000];
        long next = 2;
        for (int round = 0; round < 3; round++) {
            int n = round == 1 ? 0 : values.length - round;
            for (int i = 0; i < n; i++) {
                values[i] = next++;
            }
            list.addAll(values, n);
        }
        List<Long> seen = new ArrayList<>();
        list.forEach(seen::add);
        assertThat(list.count()).isEqualTo(next - 1);
        assertThat(seen).hasSize((int) (next - 1));
        for (int i = 0; i < seen.size(); i++) {
            assertThat(seen.get(i)).isEqualTo(i + 1L);
        }
        assertThatThrownBy(() -> list.addAll(new long[] {5, 0}, 2)).isInstanceOf(IllegalArgumentException.class);
    }
}

package io.couponstate.kafka.internal.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/** Restore progress lines: how often they come and how rarely the clock is read. */
class ProgressReadsTest {

    @Test
    void progress_isReportedEveryTenSeconds_lookingAtTheClockOncePerFourMegabytes() throws IOException {
        long[] now = {0};
        int[] looks = {0};
        LongSupplier clock = () -> {
            looks[0]++;
            now[0] += TimeUnit.SECONDS.toNanos(6); // every look at the clock finds 6 s gone
            return now[0];
        };
        List<String> lines = new ArrayList<>();
        int size = 40 << 20;
        try (InputStream in = ProgressReads.stream(new java.io.ByteArrayInputStream(new byte[size]),
                new ProgressReads(Path.of("x.ckpt"), size, lines::add, clock, 0, null))) {
            byte[] buffer = new byte[1 << 16];
            while (in.read(buffer) >= 0) {
                // reading is all
            }
        }
        assertThat(looks[0]).isEqualTo(1 + 10); // at the start, then once per 4 MiB
        // looks at 12, 18, ..., 66 s since a start at 6 s: a report whenever 10 s passed since the last one
        assertThat(lines).hasSize(5).allMatch(l -> l.startsWith("restoring checkpoint x.ckpt: "));
        assertThat(lines.get(0)).contains("8.4 of 41.9 MB read (20%) in 12 s");
        assertThat(lines.get(4)).contains("41.9 of 41.9 MB read (100%) in 60 s");
    }
}

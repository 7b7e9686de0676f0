package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CouponFileGeneratorTest {

    @TempDir
    Path dir;

    @Test
    void generate_plantsExactlyTheEightValidCodesAndKeepsRandomCodesToTheirFilesLength() throws IOException {
        List<Path> files = CouponFileGenerator.generate(dir, 5_000, 3, false);

        Map<String, Set<Integer>> sourcesByCode = new HashMap<>();
        for (int i = 1; i <= 3; i++) {
            List<String> lines = Files.readAllLines(files.get(i - 1), StandardCharsets.US_ASCII);
            Set<String> planted = new HashSet<>(CouponFileGenerator.plantedIn(i));
            assertThat(lines).hasSize(5_000 + planted.size());
            for (String line : lines) {
                if (!planted.contains(line)) {
                    assertThat(line).as("random code in file %d", i).hasSize(7 + i).matches("[A-Z0-9]+");
                }
                sourcesByCode.computeIfAbsent(line, k -> new HashSet<>()).add(i);
            }
            assertThat(lines).containsAll(planted);
        }
        Set<String> valid = new TreeSet<>();
        sourcesByCode.forEach((code, sources) -> {
            if (sources.size() >= 2) {
                valid.add(code);
            }
        });
        assertThat(valid).containsExactlyElementsOf(CouponFileGenerator.PLANTED_VALID);
    }

    @Test
    void generate_sameSeed_sameFiles_gzipReadsBackTheSame() throws IOException {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        List<Path> plain = CouponFileGenerator.generate(a, 1_000, 9, false);
        CouponFileGenerator.generate(b, 1_000, 9, false);
        List<Path> zipped = CouponFileGenerator.generate(dir.resolve("z"), 1_000, 9, true);
        for (int i = 0; i < 3; i++) {
            byte[] bytes = Files.readAllBytes(plain.get(i));
            assertThat(Files.readAllBytes(b.resolve(plain.get(i).getFileName()))).isEqualTo(bytes);
            assertThat(zipped.get(i).getFileName().toString()).endsWith(".gz");
            try (InputStream in = new GZIPInputStream(Files.newInputStream(zipped.get(i)))) {
                assertThat(in.readAllBytes()).isEqualTo(bytes);
            }
        }
    }

    @Test
    void generate_rejectsNegativeCounts() {
        assertThatThrownBy(() -> CouponFileGenerator.generate(dir, -1, 1, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("codesPerFile: -1");
    }
}

package io.couponstate.examples.readme;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every {@code ```java} block of the top-level README is, line for line (leading indentation aside), a region of a
 * class under {@code examples/src/main/java} (or the Spring Boot sample's, {@code examples/spring-boot-sample}) between
 * {@code // README:name:begin} and {@code // README:name:end}, so the build compiles what the README shows and the
 * two cannot drift.
 */
class ReadmeSnippetsTest {

    /** Where marked regions live, relative to this module: its sources and the Spring Boot sample's. */
    private static final List<Path> SOURCE_ROOTS =
            List.of(Path.of("src/main/java"), Path.of("spring-boot-sample/src/main/java"));

    private static final Pattern JAVA_BLOCK = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern BEGIN = Pattern.compile("^\\s*// README:([a-z0-9-]+):begin\\s*$");

    @Test
    void everyJavaBlockOfTheReadme_isAMarkedRegionOfACompiledClass() throws IOException {
        Map<String, String> regions = markedRegions();
        List<String> blocks = javaBlocks(readme());
        assertThat(blocks).as("java blocks in README.md").hasSizeGreaterThanOrEqualTo(3);
        assertThat(regions).as("marked regions under src/main/java").hasSizeGreaterThanOrEqualTo(3);
        List<String> unmatched = new ArrayList<>();
        for (String block : blocks) {
            if (!regions.containsValue(normalize(block))) {
                unmatched.add(block);
            }
        }
        assertThat(unmatched).as("README java blocks that are not a marked region (regions: %s)", regions.keySet())
                .isEmpty();
    }

    @Test
    void everyMarkedRegion_isInTheReadme() throws IOException {
        List<String> blocks = javaBlocks(readme()).stream().map(ReadmeSnippetsTest::normalize).toList();
        markedRegions().forEach((name, region) ->
                assertThat(blocks).as("region %s is shown in README.md", name).contains(region));
    }

    @Test
    void everySnippetShowsItsImports() throws IOException {
        for (String block : javaBlocks(readme())) {
            assertThat(block).as("a snippet a user pastes says what it imports").contains("import ");
        }
    }

    @Test
    void coreApiExample_printsItsResults() throws IOException {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream original = System.out;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            CoreApiExample.main(new String[0]);
        } finally {
            System.setOut(original);
        }
        assertThat(captured.toString(StandardCharsets.UTF_8).lines().toList()).containsExactly(
                "BIRTHDAY became valid in [couponbase1, couponbase2]",
                "BIRTHDAY valid: true, sources [couponbase1, couponbase2]",
                "birthday valid: false",
                "restored 1 code(s); BIRTHDAY valid: true");
    }

    @Test
    void secureClusterExample_buildsWithoutConnecting() {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream original = System.out;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            SecureClusterExample.main(new String[] {"secret"});
        } finally {
            System.setOut(original);
        }
        assertThat(captured.toString(StandardCharsets.UTF_8)).startsWith("built ").contains("CREATED");
    }

    @Test
    void ownConsumerExample_isTheJavaBlockOfTheSectionInYourOwnConsumer() throws IOException {
        String readme = readme();
        int section = readme.indexOf("\n## In your own consumer\n");
        assertThat(section).as("README.md has a section \"In your own consumer\"").isPositive();
        int next = readme.indexOf("\n## ", section + 1);
        List<String> blocks = javaBlocks(readme.substring(section, next < 0 ? readme.length() : next));
        assertThat(blocks).as("java blocks of that section").hasSize(1);
        assertThat(normalize(blocks.get(0))).isEqualTo(markedRegions().get("own-consumer"));
        assertThat(blocks.get(0)).contains("CouponCheckpoints.open(").contains(".restore(state)")
                .contains("seekToBeginning").contains("onPartitionsRevoked").contains("checkpoints.write(state, next)");
    }

    @Test
    void normalize_ignoresOnlyLeadingIndentation() {
        assertThat(normalize("  a b\n\tc\n")).isEqualTo(normalize("a b\nc"));
        assertThat(normalize("a  b")).isNotEqualTo(normalize("a b"));
    }

    private static String readme() throws IOException {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path readme = dir.resolve("README.md");
            if (Files.isRegularFile(readme) && Files.isDirectory(dir.resolve("examples"))) {
                return Files.readString(readme);
            }
        }
        throw new AssertionError("no top-level README.md above " + Path.of("").toAbsolutePath());
    }

    static List<String> javaBlocks(String markdown) {
        List<String> blocks = new ArrayList<>();
        Matcher m = JAVA_BLOCK.matcher(markdown);
        while (m.find()) {
            blocks.add(m.group(1));
        }
        return blocks;
    }

    /** name -> normalized text of every {@code // README:name:begin} ... {@code end} region of every root. */
    static Map<String, String> markedRegions() throws IOException {
        Map<String, String> regions = new LinkedHashMap<>();
        for (Path root : SOURCE_ROOTS) {
            markedRegions(root, regions);
        }
        return regions;
    }

    private static void markedRegions(Path sourceRoot, Map<String, String> regions) throws IOException {
        try (Stream<Path> files = Files.walk(sourceRoot)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
                List<String> lines = readLines(file);
                for (int i = 0; i < lines.size(); i++) {
                    Matcher begin = BEGIN.matcher(lines.get(i));
                    if (!begin.matches()) {
                        continue;
                    }
                    String name = begin.group(1);
                    String end = "// README:" + name + ":end";
                    int j = i + 1;
                    while (j < lines.size() && !lines.get(j).strip().equals(end)) {
                        j++;
                    }
                    assertThat(j).as("%s: region %s has an end marker", file, name).isLessThan(lines.size());
                    String previous = regions.put(name, normalize(String.join("\n", lines.subList(i + 1, j))));
                    assertThat(previous).as("region %s is defined once", name).isNull();
                    i = j;
                }
            }
        }
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Each line without its leading white space, trailing blank lines dropped. */
    static String normalize(String text) {
        return text.lines().map(String::stripLeading).collect(Collectors.joining("\n")).strip();
    }
}

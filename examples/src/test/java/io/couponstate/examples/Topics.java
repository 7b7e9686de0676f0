package io.couponstate.examples;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Helpers shared by the end-to-end tests. */
final class Topics {

    private Topics() {
    }

    /** {@code publish --no-progress} of the files; fails the test unless it exits 0. */
    static Cli.Run publish(String bootstrap, Path... files) {
        List<String> args = new ArrayList<>(List.of("publish", "--bootstrap-servers", bootstrap, "--no-progress"));
        for (Path f : files) {
            args.add(f.toString());
        }
        Cli.Run run = Cli.run(args.toArray(String[]::new));
        if (run.exitCode() != 0) {
            throw new AssertionError("publish failed: " + run);
        }
        return run;
    }

    /** The part of {@code consume}'s output from {@code valid codes:} up to the blank line. */
    static String validSection(String consumeOutput) {
        int start = consumeOutput.indexOf("valid codes:\n");
        int end = consumeOutput.indexOf("\n\n", start);
        if (start < 0 || end < 0) {
            throw new AssertionError("no valid-codes section in:\n" + consumeOutput);
        }
        return consumeOutput.substring(start, end + 1);
    }

    /** The value of {@code name=} in the {@code totals:} line of {@code consume}'s output. */
    static long total(String consumeOutput, String name) {
        for (String line : consumeOutput.split("\n")) {
            if (line.startsWith("totals: ")) {
                for (String field : line.substring("totals: ".length()).split(" ")) {
                    if (field.startsWith(name + "=")) {
                        return Long.parseLong(field.substring(name.length() + 1));
                    }
                }
            }
        }
        throw new AssertionError("no totals field " + name + " in:\n" + consumeOutput);
    }

    /** The expected valid-codes section for the generated data. */
    static String expectedValidSection() {
        return "valid codes:\n" + String.join("\n", CouponFileGenerator.PLANTED_VALID) + "\n";
    }
}

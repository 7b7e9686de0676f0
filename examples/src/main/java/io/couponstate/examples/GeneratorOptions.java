package io.couponstate.examples;

import picocli.CommandLine.Option;

/** Options of the commands that generate coupon files: {@code generate} and {@code demo}. */
final class GeneratorOptions {

    @Option(names = "--codes-per-file", paramLabel = "N",
            description = "Random codes per file (default: ${DEFAULT-VALUE}).",
            defaultValue = "1000000")
    int codesPerFile;

    @Option(names = "--seed", paramLabel = "SEED",
            description = "The random seed (default: ${DEFAULT-VALUE}).", defaultValue = "1")
    long seed;
}

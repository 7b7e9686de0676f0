package io.couponstate.examples;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Writes the three demo coupon files. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        header = "Writes three coupon files shaped like the reference data.",
        description = "File i (couponbase1..3) holds random codes of length 7+i plus planted codes, so that exactly "
            + "BIRTHDAY BUYGETON FIFTYOFF FREEZAAA GNULINUX HAPPYHRS OVER9000 SIXTYOFF are valid (the decoys "
            + "SUPER100 and MOODYHRS appear in one file each).")
final class GenerateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--out", paramLabel = "DIR", description = "The directory to write to (default: ${DEFAULT-VALUE}).",
            defaultValue = "coupons")
    Path out;

    @Mixin
    GeneratorOptions generator;

    @Option(names = "--gzip", description = "Write gzipped files (couponbaseN.gz).")
    boolean gzip;

    @Override
    public Integer call() throws Exception {
        List<Path> files = CouponFileGenerator.generate(out, generator.codesPerFile, generator.seed, gzip);
        PrintWriter w = spec.commandLine().getOut();
        for (Path file : files) {
            w.printf("%s (%,d bytes)%n", file, Files.size(file));
        }
        w.flush();
        return 0;
    }
}

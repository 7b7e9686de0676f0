package io.couponstate.core;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * Run by hand, not part of the suite: base write and restore of a pre-sized {@link CompactCouponState} (a table
 * image, version 3) against a {@link LockFreeCouponState} (an entry list, version 2) holding the same codes, three
 * rounds, side by side. Arguments: codes (default 10,000,000), seed, sources (default 4; each code is seen by one
 * or, half the time, two of them).
 *
 * <pre>
 * java -Xmx4g -cp target/classes:target/test-classes io.couponstate.core.ImageBenchMain 10000000
 * </pre>
 */
public final class ImageBenchMain {

    private ImageBenchMain() {
    }

    public static void main(String[] args) throws IOException {
        int codes = args.length > 0 ? Integer.parseInt(args[0]) : 10_000_000;
        long seed = args.length > 1 ? Long.parseLong(args[1]) : System.nanoTime();
        int sourceCount = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        System.out.printf("%,d codes, seed %d, %d sources%n", codes, seed, sourceCount);
        CouponStateConfig config = CouponStateConfig.builder().expectedCodes(codes).build();
        CompactCouponState compact = new CompactCouponState(config);
        LockFreeCouponState lockFree = new LockFreeCouponState(config);
        SplittableRandom random = new SplittableRandom(seed);
        byte[] code = new byte[10];
        String alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for (int s = 0; s < sourceCount; s++) {
            compact.sourceId("s" + s);
            lockFree.sourceId("s" + s);
        }
        for (int i = 0; i < codes; i++) {
            for (int j = 0; j < code.length; j++) {
                code[j] = (byte) alphabet.charAt(random.nextInt(alphabet.length()));
            }
            int first = random.nextInt(sourceCount);
            compact.addObservation(code, 0, code.length, first);
            lockFree.addObservation(code, 0, code.length, first);
            if (random.nextBoolean()) { // about half the codes valid
                int second = random.nextInt(sourceCount);
                compact.addObservation(code, 0, code.length, second);
                lockFree.addObservation(code, 0, code.length, second);
            }
        }
        System.out.printf("filled: compact %,d codes (%d wide stripes, %,d side entries), lock-free %,d%n",
                compact.size(), compact.wideStripes(), compact.sideEntries(), lockFree.size());
        Path dir = Files.createTempDirectory("image-bench");
        try {
            for (int round = 1; round <= 3; round++) {
                Result c = run(compact, CompactCouponState::new, config, dir.resolve("compact"));
                Result l = run(lockFree, LockFreeCouponState::new, config, dir.resolve("lockfree"));
                System.out.printf("round %d: bytes compact %,d / lock-free %,d = %.2f | base write %d / %d ms = %.2f"
                        + " | restore %d / %d ms = %.2f%n", round, c.bytes, l.bytes, (double) c.bytes / l.bytes,
                        c.writeMs, l.writeMs, (double) c.writeMs / l.writeMs, c.readMs, l.readMs,
                        (double) c.readMs / l.readMs);
            }
        } finally {
            Files.deleteIfExists(dir.resolve("compact"));
            Files.deleteIfExists(dir.resolve("lockfree"));
            Files.delete(dir);
        }
    }

    private record Result(long bytes, long writeMs, long readMs) {
    }

    private static Result run(AbstractCouponState state, Function<CouponStateConfig, AbstractCouponState> factory,
            CouponStateConfig config, Path file) throws IOException {
        System.gc();
        long t0 = System.nanoTime();
        CouponSnapshots.writeBase(state, file);
        long t1 = System.nanoTime();
        AbstractCouponState target = factory.apply(config);
        System.gc();
        long t2 = System.nanoTime();
        CouponSnapshots.readChain(file, List.of(), target);
        long t3 = System.nanoTime();
        if (target.size() != state.size() || target.validCount() != state.validCount()) {
            throw new IllegalStateException("restored " + target.size() + " codes, " + target.validCount()
                    + " valid; expected " + state.size() + ", " + state.validCount());
        }
        return new Result(Files.size(file), (t1 - t0) / 1_000_000, (t3 - t2) / 1_000_000);
    }
}

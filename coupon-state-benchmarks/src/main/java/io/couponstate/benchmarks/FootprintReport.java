package io.couponstate.benchmarks;

import java.util.ArrayList;
import java.util.List;
import org.openjdk.jol.info.GraphLayout;

/**
 * Bytes retained per distinct code at 10M codes for each implementation, pre-sized ({@code expectedCodes}) and not
 * (default capacity, grown). Measured as the heap delta after full GCs around filling the state through the byte
 * path (so the baselines retain the Strings they built, as they would behind a StringDeserializer); for our
 * implementations also JOL's {@code GraphLayout.totalSize()}, which walks the state's object graph exactly.
 *
 * <pre>
 * java -Xmx8g -Djdk.attach.allowAttachSelf=true -cp coupon-state-benchmarks/target/benchmarks.jar io.couponstate.benchmarks.FootprintReport \
 *      [--codes 10000000] [--impl LOCK_FREE,STRIPED_LOCK,COMPACT,GO_PORT,CHM_MASK]
 * </pre>
 */
public final class FootprintReport {

    private FootprintReport() {
    }

    /** Runs the report; prints a markdown table. */
    public static void main(String[] args) {
        int codes = 10_000_000;
        List<Impl> impls = List.of(Impl.values());
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--codes" -> codes = Integer.parseInt(args[++i]);
                case "--impl" -> {
                    List<Impl> chosen = new ArrayList<>();
                    for (String name : args[++i].split(",")) {
                        chosen.add(Impl.valueOf(name.trim()));
                    }
                    impls = chosen;
                }
                default -> throw new IllegalArgumentException("argument: " + args[i]
                        + " (expected: --codes N, --impl A,B)");
            }
        }
        Inputs inputs = new Inputs(codes, false, 1, 42);
        System.out.printf("Footprint at %,d distinct codes (%,d observations), max heap %s%n%n", codes,
                inputs.observations(), Heap.mb(Runtime.getRuntime().maxMemory()));
        System.out.println("| impl | pre-sized | bytes/code (heap delta) | bytes/code (JOL) | retained |");
        System.out.println("|---|---|---:|---:|---:|");
        for (Impl impl : impls) {
            for (boolean presized : new boolean[] {true, false}) {
                long before = Heap.usedAfterGc();
                StateFacade state = impl.create(presized ? codes : 0);
                inputs.applyBytes(state, 0, inputs.observations());
                long after = Heap.usedAfterGc();
                if (state.size() != codes) {
                    throw new IllegalStateException(impl + " holds " + state.size() + " codes, expected " + codes);
                }
                long delta = after - before;
                String jol = "-";
                if (impl == Impl.LOCK_FREE || impl == Impl.STRIPED_LOCK || impl == Impl.COMPACT) {
                    jol = String.format("%.2f", (double) GraphLayout.parseInstance(state.unwrap()).totalSize() / codes);
                }
                System.out.printf("| %s | %s | %.2f | %s | %s |%n", impl, presized ? "yes" : "no",
                        (double) delta / codes, jol, Heap.mb(delta));
                state = null; // drop before the next measurement
            }
        }
    }
}

package io.couponstate.examples;

import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The examples' command line: {@code java -jar coupon-state-examples.jar <command>}; every command has
 * {@code --help}. Results go to standard output, progress and logs to standard error.
 */
@Command(name = "coupon-state-examples", mixinStandardHelpOptions = true, versionProvider = CouponStateCli.Version.class,
        description = "couponstate: which coupon codes have been seen in at least two sources.",
        exitCodeListHeading = "%nExit codes (every command):%n",
        exitCodeList = {
            "0:done",
            "1:failed: no broker answered, a topic does not exist, a file cannot be published, the runner failed",
            "2:usage error: unknown option, missing or malformed value, contradicting values",
            "3:stopped (Ctrl-C, SIGTERM) before caught up with the topics",
            "4:not caught up within --timeout-seconds"
        },
        subcommands = {
            DemoCommand.class, BrokerCommand.class, GenerateCommand.class, PublishCommand.class,
            ConsumeCommand.class, ServeCommand.class, CommandLine.HelpCommand.class
        })
public final class CouponStateCli implements Runnable {

    @Spec
    CommandSpec spec;

    /** Runs the command line and exits the JVM with the command's exit code. */
    public static void main(String[] args) {
        int code = commandLine().execute(args);
        StopSignal.exitAfterStop(code);
        System.exit(code);
    }

    /** A fresh command line, for embedding or tests ({@code commandLine().execute("demo")}). */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new CouponStateCli())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler(CouponStateCli::handleFailure);
        // every command lists the exit codes it can return under its --help
        Map<String, String> all = cli.getCommandSpec().usageMessage().exitCodeList();
        Map<String, String> codesOf = Map.of("consume", "01234", "serve", "012", "publish", "012", "broker", "012",
                "generate", "012");
        for (Map.Entry<String, CommandLine> sub : cli.getSubcommands().entrySet()) {
            String codes = codesOf.get(sub.getKey());
            if (codes == null || !sub.getValue().getCommandSpec().usageMessage().exitCodeList().isEmpty()) {
                continue;
            }
            Map<String, String> list = new LinkedHashMap<>();
            all.forEach((code, text) -> {
                if (codes.contains(code.strip())) {
                    list.put(code, text);
                }
            });
            sub.getValue().getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(list);
        }
        return cli;
    }

    /**
     * A failed command says what failed in one line, without a stack trace or exception class names: a
     * {@link CommandFailure} as it is, a bad value ({@link IllegalArgumentException}) as a usage error, anything else
     * as "COMMAND failed: what, why".
     */
    private static int handleFailure(Exception e, CommandLine commandLine, CommandLine.ParseResult parsed) {
        String command = commandLine.getCommandName();
        int code;
        String message;
        if (e instanceof CommandFailure f) {
            code = f.exitCode();
            message = command + ": " + f.getMessage();
        } else if (e instanceof IllegalArgumentException) {
            code = ExitCodes.USAGE;
            message = command + ": " + Messages.describe(e);
        } else {
            code = ExitCodes.FAILED;
            message = command + " failed: " + Messages.describe(e);
        }
        commandLine.getErr().println(message);
        commandLine.getErr().flush();
        return code;
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing command: try 'demo', or --help for all of them");
    }

    /** The project version, from the build (a filtered resource), so that {@code -V} matches the artifacts. */
    static final class Version implements IVersionProvider {
        /** The version the build wrote into {@code couponstate-version.properties}; "unknown" without it. */
        static String projectVersion() {
            Properties p = new Properties();
            try (InputStream in = CouponStateCli.class.getResourceAsStream("/couponstate-version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            } catch (IOException e) {
                return "unknown";
            }
            return p.getProperty("version", "unknown");
        }

        @Override
        public String[] getVersion() {
            return new String[] {"couponstate examples " + projectVersion(),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")"};
        }
    }
}

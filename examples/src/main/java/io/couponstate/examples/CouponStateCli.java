package io.couponstate.examples;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The examples' command line: {@code java -jar coupon-state-examples.jar <command>}; every command has
 * {@code --help}. Results go to standard output, progress and logs to standard error.
 */
@Command(name = "coupon-state-examples", mixinStandardHelpOptions = true, version = "couponstate examples 0.1.0",
        description = "couponstate: which coupon codes have been seen in at least two sources.",
        subcommands = {
            DemoCommand.class, BrokerCommand.class, GenerateCommand.class, PublishCommand.class,
            ConsumeCommand.class, ServeCommand.class, CommandLine.HelpCommand.class
        })
public final class CouponStateCli implements Runnable {

    @Spec
    CommandSpec spec;

    /** Runs the command line and exits the JVM with the command's exit code. */
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** A fresh command line, for embedding or tests ({@code commandLine().execute("demo")}). */
    public static CommandLine commandLine() {
        return new CommandLine(new CouponStateCli())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler(CouponStateCli::handleFailure);
    }

    /** A failed command says what failed in one line (with its causes), not with a stack trace; exit code 1. */
    private static int handleFailure(Exception e, CommandLine commandLine, CommandLine.ParseResult parsed) {
        StringBuilder message = new StringBuilder(commandLine.getCommandName()).append(" failed: ").append(e);
        for (Throwable cause = e.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            message.append("\n  caused by: ").append(cause);
        }
        commandLine.getErr().println(message);
        commandLine.getErr().flush();
        return 1;
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing command: try 'demo', or --help for all of them");
    }
}

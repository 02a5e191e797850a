package streams.bench;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/** `--name value` options and `--flag` switches after the case name; unknown names are an error. */
final class Options {
    private final Map<String, String> values = new HashMap<>();

    Options(String[] args, int from, Set<String> known, Set<String> flags) {
        for (int i = from; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--")) {
                throw new UsageException("unexpected argument: " + arg);
            }
            String name = arg.substring(2);
            String value;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (flags.contains(name)) {
                value = "true";
            } else {
                if (i + 1 >= args.length) {
                    throw new UsageException("--" + name + " needs a value");
                }
                value = args[++i];
            }
            if (!known.contains(name) && !flags.contains(name)) {
                throw new UsageException("unknown option for this case: --" + name);
            }
            values.put(name, value);
        }
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    String get(String name, String otherwise) {
        return values.getOrDefault(name, otherwise);
    }

    String required(String name) {
        String value = values.get(name);
        if (value == null) {
            throw new UsageException("--" + name + " is required");
        }
        return value;
    }

    long getLong(String name, long otherwise) {
        String value = values.get(name);
        if (value == null) {
            return otherwise;
        }
        try {
            return Long.parseLong(value.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " takes a whole number, not " + value);
        }
    }

    Long getLongOrNull(String name) {
        return has(name) ? getLong(name, 0) : null;
    }

    boolean flag(String name) {
        return Boolean.parseBoolean(values.getOrDefault(name, "false"));
    }

    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}

"""The `farmtrace` command line: one entry point, many subcommands."""

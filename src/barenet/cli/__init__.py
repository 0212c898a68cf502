"""The ``barenet`` command line: one module per subcommand. The only place that prints."""

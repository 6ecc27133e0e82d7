"""One module per `xferjax` subcommand, each with `add_arguments(parser)` and
`run(args) -> exit status`; `xferjax.cli` lists them in one table."""

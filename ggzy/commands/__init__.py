"""Sub-commands of the `ggzy` CLI, one module per area; ggzy.cli registers them."""

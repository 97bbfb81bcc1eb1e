"""The ``gateway`` command line. Each module registers one group of commands."""

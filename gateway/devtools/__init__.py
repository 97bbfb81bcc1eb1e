"""Tools for developers of the gateway (not used at run time)."""
